import Analysis
import ArgumentParser
import Foundation

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Top-1 accuracy (with a 95% Wilson interval) and throughput of a model on evaluation data."
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Evaluate only the first N samples.")
    var limit: Int?

    @Option(name: .long, help: "Samples per forward pass.")
    var batch: Int = 256

    @Option(name: .long, help: "Write the logits as a float32 .npy of shape [N, classes].")
    var logits: String?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @OptionGroup var quantization: QuantizationOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            var (model, dataset) = try options.load()
            if let limit { dataset = dataset.prefix(limit) }
            let (evaluator, weights, quantInfo) = try quantization.prepare(model: model, dataset: dataset)
            let result = try evaluator.evaluate(dataset, batch: batch, weights: weights, keepLogits: logits != nil)
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
}
