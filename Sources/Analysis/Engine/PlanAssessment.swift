import Executor

/// A whole plan evaluated the way `eval --plan` reports it: its weights through the workbench's
/// `PlanEvaluator` (same batches, same substituted weights, so the accuracy equals the screen's), and
/// its activation specs, if any, calibrated per tensor on a prefix of the data (`PlanActivations`)
/// and inserted as fake-quant nodes before the weights are evaluated.
///
/// With activation specs the FP32 reference is a second pass of the float model (the first pass
/// already runs the quantized activations); they need labels, since agreement with a reference that
/// is itself a separate pass would not be what the screen shows.
public struct PlanAssessment: Sendable {
    /// The evaluation of the plan's weights on `model` (with the activation fake-quant when present).
    public var result: PlanEvaluation
    /// The model that was evaluated: the input model, or it with the activation fake-quant nodes.
    public var evaluatedModel: Model
    /// One entry per quantized activation tensor, in graph order; empty without activation specs.
    public var activations: [PlanActivations.Entry]
    /// How the output was scored, its last axis' length, and the samples per forward pass used.
    public var scoring: FidelityScoring
    public var classes: Int
    public var batchSize: Int
    /// Layers whose spec is a Fisher-weighted k-means LUT family, and how many of them got the
    /// Fisher weighting (the others fell back to plain k-means).
    public var lutLayers: Int
    public var fisherWeightedLayers: Int

    /// Evaluates `plan` on `dataset`.
    ///
    /// - Parameters:
    ///   - batchSize: samples per forward pass (the workbench's default reproduces its numbers).
    ///   - calibrationSamples: the prefix of `dataset` that calibrates activation ranges.
    ///   - fisherSamples: samples for the Fisher diagonal of `lut` layers; nil = plain k-means.
    /// - Throws: `QScopeError` when the plan has activation specs and the data has no labels, or
    ///   anything loading or evaluating throws.
    public static func evaluate(_ plan: Plan, model: Model, dataset: Dataset, batchSize: Int,
                                calibrationSamples: Int, fisherSamples: Int?,
                                metric: FidelityMetric? = nil) async throws -> PlanAssessment {
        var evaluated = model
        var weightsOnly = plan
        var activations: [PlanActivations.Entry] = []
        var floatResult: PlanEvaluation?
        if plan.choices.contains(where: { $0.activations != nil }) {
            guard dataset.labels != nil else {
                throw QScopeError(file: dataset.source, "plans with activation specs are evaluated against labels; the data has none")
            }
            let calibrated = try PlanActivations.calibrate(plan: plan, model: model, calibration: dataset.prefix(calibrationSamples))
            evaluated = calibrated.model
            activations = calibrated.entries
            for i in weightsOnly.choices.indices { weightsOnly.choices[i].activations = nil }
            let float = try PlanEvaluator(model: model, dataset: dataset, batchSize: batchSize, metric: metric)
            floatResult = try await float.evaluate(Plan(model: model))
        }
        let evaluator = try PlanEvaluator(model: evaluated, dataset: dataset, batchSize: batchSize, fisherSamples: fisherSamples,
                                          metric: metric)
        var result = try await evaluator.evaluate(weightsOnly)
        if let floatResult {
            result.referenceCorrect = floatResult.correct
            result.referenceMetrics = floatResult.referenceMetrics
            result.plan = plan
        }
        let lut = zip(plan.choices, result.layers).filter { $0.0.weights?.usesSensitivity == true }
        return PlanAssessment(result: result, evaluatedModel: evaluated, activations: activations,
                              scoring: evaluator.scoring, classes: evaluator.classes, batchSize: evaluator.batchSize,
                              lutLayers: lut.count, fisherWeightedLayers: lut.filter { $0.1.fisherWeighted }.count)
    }
}
