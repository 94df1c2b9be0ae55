import Executor

/// The choices that turn a model's first output into a headline number: the output's kind (as
/// inferred, or as a metric that needs logits implies) and the headline metric.
public struct FidelityScoring: Sendable, Hashable {
    public var layout: OutputLayout
    public var headline: FidelityMetric

    /// Resolves the scoring of an output with `inferred` layout.
    ///
    /// - Parameter requested: the user's `--metric`; nil takes the default (accuracy when labels score
    ///   the output, agreement for logits, cosine otherwise). Asking for agreement or KL on an output
    ///   inferred to be an embedding reads it as logits (the user knows it is).
    /// - Throws: when the requested metric cannot score the output (accuracy without labels or on a
    ///   non-classifier output, agreement or KL on a last axis of one value).
    public init(inferred: OutputLayout, hasLabels: Bool, requested: FidelityMetric?) throws {
        var layout = inferred
        if let requested, requested == .kl || requested == .agreement, layout.kind == .embedding {
            layout.kind = .logits
            layout.kindReason = "--metric \(requested.rawValue)"
        }
        let headline = requested ?? FidelityMetric.defaultHeadline(for: layout, hasLabels: hasLabels)
        if let reason = headline.unavailableReason(for: layout, hasLabels: hasLabels) {
            throw QScopeError("--metric \(headline.rawValue): \(reason)")
        }
        self.layout = layout
        self.headline = headline
    }
}

/// A model evaluated against its FP32 self on the same data: what `eval` reports.
public struct ScoredEvaluation: Sendable {
    /// The evaluated model's pass (timing, accuracy against labels, its outputs when kept).
    public var result: EvaluationResult
    /// The FP32 pass's accuracy against labels (nil when labels do not score the output).
    public var referenceAccuracy: Double?
    public var scoring: FidelityScoring
    /// Every metric against the FP32 outputs (accuracy against the labels).
    public var metrics: FidelityMetrics
    /// The headline metric's value.
    public var value: Double { metrics.value(scoring.headline) ?? .nan }

    /// Evaluates `model` (FP32) on `dataset`, then, when `evaluated` is given (the same model with
    /// quantizers applied: its own graph and substituted weights), that model against the FP32
    /// outputs. Without `evaluated`, the metrics are the FP32 model's against itself (agreement and
    /// cosine 1, infinite SQNR) and its accuracy.
    public static func evaluate(model: Model, dataset: Dataset, batch: Int, requested: FidelityMetric?,
                                evaluated: (model: Model, weights: QuantizedModelWeights?)?,
                                keepOutputs: Bool) throws -> ScoredEvaluation {
        let fp32 = Evaluator(model: model, sampleShapes: dataset.sampleShapes)
        let float = try fp32.evaluate(dataset, batch: batch, keepOutputs: true)
        let scoring = try FidelityScoring(inferred: float.layout, hasLabels: dataset.labels != nil, requested: requested)
        let reference = FidelityReference(layout: scoring.layout, outputs: float.outputs ?? [], labels: dataset.labels)
        guard let evaluated else {
            var result = float
            if !keepOutputs { result.outputs = nil }
            let metrics = reference.selfMetrics
            result.fidelity = metrics
            return ScoredEvaluation(result: result, referenceAccuracy: float.accuracy, scoring: scoring, metrics: metrics)
        }
        let evaluator = Evaluator(model: evaluated.model, sampleShapes: dataset.sampleShapes)
        let result = try evaluator.evaluate(dataset, batch: batch, weights: evaluated.weights, keepOutputs: keepOutputs,
                                            reference: reference)
        return ScoredEvaluation(result: result, referenceAccuracy: float.accuracy, scoring: scoring,
                                metrics: result.fidelity ?? reference.selfMetrics)
    }
}
