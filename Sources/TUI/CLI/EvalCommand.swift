import Analysis
import ArgumentParser
import Executor

struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy (with a 95% Wilson interval) or fidelity to FP32 (agreement, cosine, SQNR, KL), and throughput, of a model on evaluation data."
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Evaluate only the first N samples.")
    var limit: Int?

    /// Without a plan 256 (throughput); with one the workbench's default, so that `eval --plan`
    /// reproduces the screen's accuracy bit for bit.
    @Option(name: .long, help: "Samples per forward pass (default 256; with --plan \(PlanEvaluator.defaultBatchSize), as the workbench).")
    var batch: Int?

    @Option(name: [.customLong("outputs"), .customLong("logits")],
            help: "Write the first output, whatever its shape, as a float32 .npy with the samples first (--logits is the same option).")
    var outputs: String?

    @OptionGroup var metric: MetricOptions

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
            var (model, dataset) = try options.load(planPath: plan)
            if let limit { dataset = dataset.prefix(limit) }
            if let plan {
                try output.print(try await evaluatePlan(plan, model: model, dataset: dataset))
            } else {
                try output.print(try evaluate(model: model, dataset: dataset))
            }
        }
    }

    /// The model with `--weights`/`--activations` applied, on the data, scored against the FP32
    /// model's outputs on the same data (and against the labels when they score the output).
    private func evaluate(model: Model, dataset: Dataset) throws -> EvalReport {
        let pipeline = try quantization.pipeline()
        let quantized = try pipeline.run(model: model, dataset: dataset)
        let quantizes = pipeline.weights != nil || pipeline.activations != nil
        let scored = try ScoredEvaluation.evaluate(
            model: model, dataset: dataset, batch: batch ?? 256, requested: metric.metric,
            evaluated: quantizes ? (quantized.model, quantized.weights) : nil, keepOutputs: outputs != nil)
        let result = scored.result
        if let outputs, let values = result.outputs {
            try NPY.writeFloat32(values, shape: [result.samples] + result.layout.sampleShape, to: outputs)
        }
        return EvalReport(
            model: model.path, data: dataset.source, inputs: dataset.arrays.map(\.summary), samples: result.samples,
            classes: result.classes, batch: result.batch, seconds: result.seconds, imagesPerSecond: result.imagesPerSecond,
            correct: result.correct, accuracy: result.accuracy,
            ci95Low: result.interval?.lower, ci95High: result.interval?.upper,
            fp32Accuracy: quantizes ? scored.referenceAccuracy : nil,
            referenceAccuracyOnnxruntime: (try? SampleModels.locate())?.entry(forPath: model.path)?.fp32AccuracyOrt,
            outputsFile: outputs, outputsShape: [result.samples] + result.layout.sampleShape,
            hasLabels: dataset.labels != nil, fidelity: FidelityReportPart(scoring: scored.scoring, metrics: scored.metrics),
            quantization: quantized.summary)
    }

    /// `--plan`: the same evaluation the workbench's engine runs (`PlanAssessment`: same batches,
    /// same substituted weights, activation specs calibrated on the first `--calib` samples), so the
    /// accuracy equals the screen's for the same plan and data.
    private func evaluatePlan(_ path: String, model: Model, dataset: Dataset) async throws -> PlanEvalReport {
        let calibrationSamples = quantization.calibration.samples
        // Layers the file does not list keep their stored format in an already-quantized model.
        let loaded = try PlanFile.load(path: path, layerNames: model.layers.map(\.name), modelPath: model.path,
                                       base: Plan(startingFrom: model))
        if let warning = loaded.warning { writeToStandardError("qscope: warning: \(warning)") }
        let plan = loaded.plan
        let assessment = try await PlanAssessment.evaluate(
            plan, model: model, dataset: dataset, batchSize: batch ?? PlanEvaluator.defaultBatchSize,
            calibrationSamples: calibrationSamples, fisherSamples: quantization.lut.plainLut ? nil : calibrationSamples,
            metric: metric.metric)
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
            fidelity: FidelityReportPart(scoring: assessment.scoring, metrics: result.metrics),
            calibrationSamples: activationEntries.isEmpty ? nil : usedCalibration,
            activations: activationEntries.isEmpty ? nil : activationEntries.map { entry in
                PlanEvalReport.QuantizedActivation(
                    tensor: evaluated.graph.valueNames[entry.input], spec: entry.spec.description,
                    layers: entry.layers.map { model.layers[$0].name }, scale: Double(entry.calibrated.scale),
                    zeroPoint: Int(entry.calibrated.zeroPoint))
            })
    }
}
