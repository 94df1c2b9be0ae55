import Executor
/// What a running sensitivity analysis reports as it goes (`SensitivityAnalysis.run`/`updates`), in
/// the spirit of `EngineEvent`: each part's per-layer results as soon as they exist, Hessian
/// estimates while probes accumulate, then the whole report.
public enum SensitivityUpdate: Sendable, Equatable {
    /// `part` began.
    case started(SensitivityPart)
    /// The weight clusters of layer `layer` (model order).
    case outliers(layer: Int, OutlierClusters)
    /// The input activation statistics of layer `layer`.
    case activations(layer: Int, ActivationStatistics)
    /// The Hutchinson estimate so far (`partial` while probes are still being added).
    case hessian(HessianReport)
    /// The top eigenvalue of layer `layer`'s block.
    case eigenvalue(layer: Int, LayerEigenvalue)
    /// Accuracy with only layer `layer` quantized.
    case accuracy(layer: Int, LayerAccuracy)
    /// `part` is done, after `seconds` of wall time.
    case finished(SensitivityPart, seconds: Double)
    /// Everything requested is done.
    case completed(SensitivityReport)
    /// The analysis stopped on an error (one line); nothing follows.
    case failed(message: String)
}
