import Executor
/// What the background sensitivity analysis tells the workbench. Unlike `EngineEvent` there is no
/// generation: the analysis does not depend on the plan (it runs on the FP32 weights), so there is
/// only ever one run per session.
public enum SensitivityEvent: Sendable {
    /// The Hessian run began with these settings (`maxProbes` is the ceiling the status line shows;
    /// the run may stop earlier when every layer's standard error is under `tolerance` × |trace|).
    case started(samples: Int, maxProbes: Int, tolerance: Double)
    /// Layer `layer`'s weight outlier clusters (k = 3 k-means, model order).
    case outliers(layer: Int, OutlierClusters)
    /// The statistics of layer `layer`'s input activation over the calibration samples.
    case activations(layer: Int, ActivationStatistics)
    /// The estimate after another batch of probes (`report.partial` true), or the final one (false).
    case hessian(HessianReport)
    /// The analysis could not run; `message` is one line (it names the file or value at fault).
    case failed(message: String)
}
