import Analysis
import ArgumentParser
import Executor
import Foundation
import Synchronization

struct EvalCommand: ParsableCommand {
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

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var quantization: QuantizationOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if plan != nil, quantization.weights != nil || quantization.activations != nil {
            throw ValidationError("--plan sets the quantizers per layer; it cannot be combined with --weights or --activations")
        }
    }

    func run() throws {
        try reportingErrors {
            var (model, dataset) = try options.load()
            if let limit { dataset = dataset.prefix(limit) }
            if let plan {
                try evaluatePlan(plan, model: model, dataset: dataset)
                return
            }
            let (evaluator, weights, quantInfo) = try quantization.prepare(model: model, dataset: dataset)
            let result = try evaluator.evaluate(dataset, batch: batch ?? 256, weights: weights, keepLogits: logits != nil)
            if let logits, let values = result.logits {
                try NPY.writeFloat32(values, shape: [result.samples, result.classes], to: logits)
            }
            let reference = (try? SampleModels.locate())?.entry(forPath: model.path)?.fp32AccuracyOrt
            if json {
                var object: [String: Any] = [
                    "model": model.path, "data": dataset.source, "samples": result.samples, "classes": result.classes,
                    "batch": result.batch, "seconds": result.seconds, "images_per_second": result.imagesPerSecond,
                ]
                if let correct = result.correct, let accuracy = result.accuracy, let interval = result.interval {
                    object["correct"] = correct
                    object["accuracy"] = accuracy
                    object["ci95_low"] = interval.lower
                    object["ci95_high"] = interval.upper
                }
                if let reference { object["reference_accuracy_onnxruntime"] = reference }
                if let logits { object["logits_file"] = logits }
                object.merge(quantInfo.json) { $1 }
                try printJSON(object)
                return
            }
            print("model     \(model.path)")
            print("data      \(dataset.source)  (\(result.samples) samples of \(dataset.sampleShape))")
            if let accuracy = result.accuracy, let interval = result.interval, let correct = result.correct {
                print("accuracy  \(fixed(accuracy * 100, 2)) %  (95% CI \(fixed(interval.lower * 100, 2))–\(fixed(interval.upper * 100, 2)) %)  \(correct)/\(result.samples) correct")
            } else {
                print("accuracy  n/a (the data has no labels)")
            }
            for line in quantInfo.lines { print(line) }
            if let reference { print("reference \(fixed(reference * 100, 2)) % (FP32, ONNX Runtime, from the manifest)") }
            print("speed     \(fixed(result.imagesPerSecond, 0)) images/s  (batch \(result.batch), \(fixed(result.seconds, 3)) s)")
            if let logits { print("logits    \(logits)  [\(result.samples), \(result.classes)] float32") }
        }
    }

    /// `--plan`: the same evaluation the workbench's engine runs (same batches, same substituted
    /// weights), so the accuracy equals the screen's for the same plan and data.
    ///
    /// Activation specs of the plan are calibrated on the first `--calib` samples exactly as
    /// `--activations` does (`PlanActivations`), and the plan's weights are evaluated on the model with
    /// those fake-quant nodes; the FP32 reference then comes from a second evaluator on the float model.
    private func evaluatePlan(_ path: String, model: Model, dataset: Dataset) throws {
        let planBatch = batch ?? PlanEvaluator.defaultBatchSize
        let plan = try PlanFile.load(path: path, layerNames: model.layers.map(\.name))
        var evaluated = model
        var weightsOnly = plan
        var activationEntries: [PlanActivations.Entry] = []
        var referenceCorrect: Int?
        if plan.choices.contains(where: { $0.activations != nil }) {
            guard dataset.labels != nil else {
                throw QScopeError(file: dataset.source, "plans with activation specs are evaluated against labels; the data has none")
            }
            let calibration = dataset.prefix(quantization.calib)
            let activations = try PlanActivations.calibrate(plan: plan, model: model, calibration: calibration)
            evaluated = activations.model
            activationEntries = activations.entries
            for i in weightsOnly.choices.indices { weightsOnly.choices[i].activations = nil }
            let float = try PlanEvaluator(model: model, dataset: dataset, batchSize: planBatch)
            referenceCorrect = try runBlocking { try await float.evaluate(Plan(model: model)) }.correct
        }
        let evaluator = try PlanEvaluator(model: evaluated, dataset: dataset, batchSize: planBatch,
                                          fisherSamples: quantization.plainLut ? nil : quantization.calib)
        var result = try runBlocking { [weightsOnly] in try await evaluator.evaluate(weightsOnly) }
        if !activationEntries.isEmpty {
            result.referenceCorrect = referenceCorrect
            result.plan = plan
        }
        let lutLayers = zip(plan.choices, result.layers).filter { $0.0.weights?.usesSensitivity == true }
        let fisherLayers = lutLayers.filter { $0.1.fisherWeighted }.count
        let interval = result.interval
        if json {
            var object: [String: Any] = [
                "model": model.path, "data": dataset.source, "plan": path, "samples": result.samples,
                "classes": evaluator.classes, "batch": evaluator.batchSize, "seconds": result.seconds,
                "weights_mb": result.size.payloadMB, "weights_with_metadata_mb": result.size.totalMB,
                "average_bits_per_weight": result.size.averagePayloadBits,
                "average_bits_per_weight_with_metadata": result.size.averageTotalBits,
            ]
            if let correct = result.correct {
                object["correct"] = correct
                object["accuracy"] = result.accuracy
                object["ci95_low"] = interval.lower
                object["ci95_high"] = interval.upper
            }
            if let reference = result.referenceAccuracy { object["fp32_accuracy"] = reference }
            if !lutLayers.isEmpty {
                object["lut_weighting"] = fisherLayers == lutLayers.count ? "fisher" : "plain"
                if fisherLayers > 0 { object["fisher_samples"] = min(quantization.calib, dataset.count) }
            }
            if activationEntries.isEmpty {
                object["agreement_with_fp32"] = result.agreement
            } else {
                object["calibration_samples"] = min(quantization.calib, dataset.count)
                object["activations"] = activationEntries.map { entry -> [String: Any] in
                    ["tensor": evaluated.graph.valueNames[entry.input], "spec": entry.spec.description,
                     "layers": entry.layers.map { model.layers[$0].name }, "scale": Double(entry.calibrated.scale),
                     "zero_point": Int(entry.calibrated.zeroPoint)]
                }
            }
            try printJSON(object)
            return
        }
        print("model     \(model.path)")
        print("plan      \(path)")
        print("data      \(dataset.source)  (\(result.samples) samples)")
        if result.correct != nil, let reference = result.referenceAccuracy {
            print("accuracy  \(fixed(result.accuracy * 100, 2)) %  (95% CI \(fixed(interval.lower * 100, 2))–\(fixed(interval.upper * 100, 2)) %)  \(result.correct!)/\(result.samples) correct")
            print("fp32      \(fixed(reference * 100, 2)) %  (Δ \(fixed((result.accuracy - reference) * 100, 2)) pp)")
        } else {
            print("agreement \(fixed(result.accuracy * 100, 2)) % of top-1 predictions equal FP32's (the data has no labels)")
        }
        if !lutLayers.isEmpty {
            print("lut       \(lutLayers.count) layers, " + (fisherLayers == lutLayers.count
                ? "k-means weighted by the Fisher diagonal (\(min(quantization.calib, dataset.count)) samples)" : "plain k-means"))
        }
        if !activationEntries.isEmpty {
            print("acts      \(activationEntries.count) layer inputs quantized per tensor, calibrated on \(min(quantization.calib, dataset.count)) samples")
        }
        print("size      \(fixed(result.size.payloadMB, 4)) MB weights, \(fixed(result.size.totalMB, 4)) MB with metadata, \(fixed(result.size.averagePayloadBits, 2)) bits/weight")
    }
}

/// Runs async work to completion from synchronous command code (the commands are not async).
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    return try box.get()
}

/// A thread-safe slot for `runBlocking`'s result.
final class ResultBox<T: Sendable>: Sendable {
    private let value = Mutex<Result<T, Error>?>(nil)
    func set(_ result: Result<T, Error>) { value.withLock { $0 = result } }
    func get() throws -> T { try value.withLock { $0! }.get() }
}
