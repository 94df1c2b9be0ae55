import Analysis
import Executor
import Foundation

/// What the screen knows about the background sensitivity analysis (Hessian traces per layer).
///
/// Independent of the plan: the traces are of the FP32 model's loss, so edits, undo and plan loads
/// never touch this value, and analysis events never touch the plan.
public struct SensitivityState: Equatable, Sendable {
    public enum Phase: Equatable, Sendable {
        /// Not asked for yet (it starts after the first accuracy result).
        case waiting
        /// Asked for; the analysis thread has not reported its settings yet.
        case starting
        /// Probes are accumulating; `layers` holds the estimate so far (empty before the first batch).
        case running
        /// Converged (every standard error under the tolerance) or reached the probe ceiling.
        case finished
        case failed(String)
    }

    public var phase: Phase = .waiting
    /// Probes behind the current estimate, and the ceiling.
    public var probes = 0
    public var maxProbes = 0
    /// A trace counts as settled when its standard error is at most this fraction of |trace|.
    public var tolerance = 0.02
    public var samples = 0
    /// "cross-entropy", "kl-to-fp32" or "mse-to-fp32" (`LossTarget.name`).
    public var lossKind = ""
    public var seconds = 0.0
    /// One entry per quantizable layer, in model order, once the first batch is through.
    public var layers: [LayerTrace] = []
    /// Per layer (model order): the weight's k = 3 clusters and the input activation statistics,
    /// nil until they arrive (they come first, within a second or so of the start).
    public var clustersByLayer: [OutlierClusters?] = []
    public var activationsByLayer: [ActivationStatistics?] = []

    public init() {}

    /// The estimate for layer `i`, if any.
    public func trace(_ i: Int) -> LayerTrace? { i < layers.count ? layers[i] : nil }

    /// True when the standard error is within the tolerance (the table dims unsettled traces).
    /// A run that has finished is settled by definition: it stopped because of the tolerance or the
    /// probe ceiling, and no more precision is coming.
    public func isSettled(_ i: Int) -> Bool {
        guard let t = trace(i) else { return false }
        if phase == .finished { return true }
        return t.standardError <= tolerance * abs(t.trace)
    }

    public func outliers(_ i: Int) -> OutlierClusters? { i < clustersByLayer.count ? clustersByLayer[i] : nil }
    public func activations(_ i: Int) -> ActivationStatistics? { i < activationsByLayer.count ? activationsByLayer[i] : nil }

    /// Applies `event` (the reducer's part for `Msg.sensitivity`).
    mutating func apply(_ event: SensitivityEvent) {
        switch event {
        case .started(let samples, let maxProbes, let tolerance):
            phase = .running
            self.samples = samples
            self.maxProbes = maxProbes
            self.tolerance = tolerance
        case .outliers(let layer, let clusters):
            guard layer >= 0 else { return }
            if clustersByLayer.count <= layer { clustersByLayer += Array(repeating: nil, count: layer + 1 - clustersByLayer.count) }
            clustersByLayer[layer] = clusters
        case .activations(let layer, let statistics):
            guard layer >= 0 else { return }
            if activationsByLayer.count <= layer {
                activationsByLayer += Array(repeating: nil, count: layer + 1 - activationsByLayer.count)
            }
            activationsByLayer[layer] = statistics
        case .hessian(let report):
            phase = report.partial ? .running : .finished
            probes = report.probes
            seconds = report.seconds
            samples = report.samples
            lossKind = report.lossKind
            layers = report.layers
        case .failed(let message):
            phase = .failed(message)
        }
    }
}

extension AppState {
    /// HAWQ-V2 Ω of layer `i` at its current weight choice: trace/#params · ‖Q(W) − W‖².
    ///
    /// For the default quantizer at 2, 3, 4 or 8 bits this is the estimator's own Ω (it quantizes the
    /// weights with `QuantizerSpec.int(b)`). For any other spec the squared error comes from the
    /// evaluation's SQNR of exactly that spec: ‖Q(W) − W‖² = ‖W‖² · 10^(−SQNR/10), with ‖W‖² from the
    /// weight summary. Float is 0 (no perturbation). Nil while the trace or the evaluation of the
    /// current choice is missing.
    public func omega(_ i: Int) -> Double? {
        guard let trace = sensitivity.trace(i), i < plan.count else { return nil }
        guard let spec = plan.choices[i].weights else { return 0 }
        if spec == .int(spec.bits), let omega = trace.omega[spec.bits] { return omega }
        guard let result = layerResult(i) else { return nil }
        if result.sqnrDB == .infinity { return 0 }
        let weights = model.layers[i].weights
        let n = Double(model.layers[i].parameters)
        // σ² + μ² is the mean square (WeightSummary keeps the population moments).
        let sumOfSquares = n * (weights.standardDeviation * weights.standardDeviation + weights.mean * weights.mean)
        return trace.tracePerParameter * sumOfSquares * pow(10, -result.sqnrDB / 10)
    }
}
