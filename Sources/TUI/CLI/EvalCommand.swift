import Analysis
import ArgumentParser
import Executor

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Top-1 accuracy (with a 95% Wilson interval) and throughput of a model on evaluation data."
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Evaluate only the first N samples.")
    var limit: Int?

    /// Without a plan 256 (throughput); with one the workbench's default, so that `eval --plan`
    /// reproduces the screen's accuracy bit for bit.
    @Option(name: .long, help: "Samples per forward pass (default 256; with --plan \(PlanEvaluator.defaultBatchSize), as the workbench).")
    var batch: Int?

    @Option(name: .long, help: "Write the logits as a float32 .npy of shape [N, classes].")
    var logits: String?

    @Option(name: .long, help: "Evaluate with this plan's fake-quantized weights (*.qscope.json), as the workbench does.")
    var plan: String?

    @OptionGroup var output: OutputOptions

    @OptionGroup var quantization: QuantizationOptions

    func validate() throws {
        try requirePositive(limit, "--limit")
        try requirePositive(batch, "--batch")
        if plan != nil, quantization.weights != nil || quantization.activations != nil {
            throw ValidationError("--plan sets the quantizers per layer; it cannot be combined with --weights or --activations")
        }
    }

    func run() async throws {
        try await reportingErrors {
            var (model, dataset) = try options.load()
            if let limit { dataset = dataset.prefix(limit) }
            if let plan {
                try output.print(try await evaluatePlan(plan, model: model, dataset: dataset))
            } else {
                try output.print(try evaluate(model: model, dataset: dataset))
            }
        }
    }

    /// The model with `--weights`/`--activations` applied, on the data.
    private func evaluate(model: Model, dataset: Dataset) throws -> EvalReport {
        let quantized = try quantization.pipeline().run(model: model, dataset: dataset)
        let evaluator = Evaluator(model: quantized.model, sampleShape: dataset.sampleShape)
        let result = try evaluator.evaluate(dataset, batch: batch ?? 256, weights: quantized.weights, keepLogits: logits != nil)
        if let logits, let values = result.logits {
            try NPY.writeFloat32(values, shape: [result.samples, result.classes], to: logits)
        }
        // Accuracy, interval and count come together, from the labels.
        let scored = result.correct != nil && result.interval != nil
        return EvalReport(
            model: model.path, data: dataset.source, sampleShape: dataset.sampleShape, samples: result.samples,
            classes: result.classes, batch: result.batch, seconds: result.seconds, imagesPerSecond: result.imagesPerSecond,
            correct: scored ? result.correct : nil, accuracy: scored ? result.accuracy : nil,
            ci95Low: scored ? result.interval?.lower : nil, ci95High: scored ? result.interval?.upper : nil,
            referenceAccuracyOnnxruntime: (try? SampleModels.locate())?.entry(forPath: model.path)?.fp32AccuracyOrt,
            logitsFile: logits, quantization: quantized.summary)
    }

    /// `--plan`: the same evaluation the workbench's engine runs (`PlanAssessment`: same batches,
    /// same substituted weights, activation specs calibrated on the first `--calib` samples), so the
    /// accuracy equals the screen's for the same plan and data.
    private func evaluatePlan(_ path: String, model: Model, dataset: Dataset) async throws -> PlanEvalReport {
        let calibrationSamples = quantization.calibration.samples
        let plan = try PlanFile.load(path: path, layerNames: model.layers.map(\.name))
        let assessment = try await PlanAssessment.evaluate(
            plan, model: model, dataset: dataset, batchSize: batch ?? PlanEvaluator.defaultBatchSize,
            calibrationSamples: calibrationSamples, fisherSamples: quantization.lut.plainLut ? nil : calibrationSamples)
        let (result, evaluated, activationEntries) = (assessment.result, assessment.evaluatedModel, assessment.activations)
        let (lutLayers, fisherLayers) = (assessment.lutLayers, assessment.fisherWeightedLayers)
        let interval = result.interval
        let usedCalibration = min(calibrationSamples, dataset.count)
        return PlanEvalReport(
            model: model.path, data: dataset.source, plan: path, samples: result.samples, classes: assessment.classes,
            batch: assessment.batchSize, seconds: result.seconds, weightsMB: result.size.payloadMB,
            weightsWithMetadataMB: result.size.totalMB, averageBitsPerWeight: result.size.averagePayloadBits,
            averageBitsPerWeightWithMetadata: result.size.averageTotalBits, correct: result.correct,
            accuracy: result.accuracy, ci95Low: interval.lower, ci95High: interval.upper,
            fp32Accuracy: result.referenceAccuracy, lutLayers: lutLayers,
            lutWeighting: lutLayers == 0 ? nil : (fisherLayers == lutLayers ? "fisher" : "plain"),
            fisherSamples: fisherLayers > 0 ? usedCalibration : nil,
            agreementWithFP32: activationEntries.isEmpty ? result.agreement : nil,
            calibrationSamples: activationEntries.isEmpty ? nil : usedCalibration,
            activations: activationEntries.isEmpty ? nil : activationEntries.map { entry in
                PlanEvalReport.QuantizedActivation(
                    tensor: evaluated.graph.valueNames[entry.input], spec: entry.spec.description,
                    layers: entry.layers.map { model.layers[$0].name }, scale: Double(entry.calibrated.scale),
                    zeroPoint: Int(entry.calibrated.zeroPoint))
            })
    }
}
