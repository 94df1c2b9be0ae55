import Executor
import Foundation
import Kernels

/// Accuracy of a model on a dataset, and what it took to compute.
public struct EvaluationResult: Sendable {
    public var samples: Int
    /// Top-1 correct predictions; nil when the dataset has no labels.
    public var correct: Int?
    public var interval: WilsonInterval?
    public var seconds: Double
    public var batch: Int
    public var classes: Int
    /// Logits, [samples, classes] row-major, when requested.
    public var logits: [Float]?
    /// Top-1 prediction per sample.
    public var predictions: [Int]

    public var accuracy: Double? { correct.map { Double($0) / Double(max(samples, 1)) } }
    public var imagesPerSecond: Double { seconds > 0 ? Double(samples) / seconds : 0 }
}

/// Runs a model over a dataset in batches and scores top-1 accuracy.
///
/// Compiled graphs are cached per batch size (the last partial batch gets its own), so evaluating
/// again costs only the forward passes.
public final class Evaluator: @unchecked Sendable {
    public let model: Model
    public let sampleShape: [Int]
    private var compiled: [Int: CompiledGraph] = [:]

    public init(model: Model, sampleShape: [Int]) {
        self.model = model
        self.sampleShape = sampleShape
    }

    /// The compiled graph for `batch` samples (cached).
    public func graph(batch: Int) throws -> CompiledGraph {
        if let existing = compiled[batch] { return existing }
        let graph = try model.compile(batch: batch, sampleShape: sampleShape)
        guard graph.outputTypes.first.map({ $0.rank == 2 && $0.shape[0] == batch }) == true else {
            throw QScopeError(file: model.path, "the first output has shape \(graph.outputTypes.first?.shape ?? []); qscope expects logits [batch, classes]")
        }
        compiled[batch] = graph
        return graph
    }

    /// Evaluates `dataset` (already fitted to the model input) with batches of `batch` samples.
    public func evaluate(_ dataset: Dataset, batch: Int = 256, keepLogits: Bool = false) throws -> EvaluationResult {
        let total = dataset.count
        let batch = max(1, min(batch, max(total, 1)))
        let first = try graph(batch: batch)
        let classes = first.outputTypes[0].shape[1]
        if let labels = dataset.labels { _ = labels; try dataset.validateLabels(classes: classes) }
        var predictions = [Int](repeating: 0, count: total)
        var logits: [Float] = keepLogits ? [Float](repeating: 0, count: total * classes) : []
        let sampleSize = dataset.sampleSize
        let start = DispatchTime.now().uptimeNanoseconds
        try dataset.x.withUnsafeBufferPointer { x in
            var offset = 0
            while offset < total {
                let n = min(batch, total - offset)
                let graph = try self.graph(batch: n)
                graph.run([x.baseAddress! + offset * sampleSize])
                let out = graph.output(0)
                for i in 0..<n {
                    let row = out.baseAddress! + i * classes
                    var best = 0
                    for c in 1..<classes where row[c] > row[best] { best = c }
                    predictions[offset + i] = best
                }
                if keepLogits {
                    logits.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: offset * classes).update(from: out.baseAddress!, count: n * classes) }
                }
                offset += n
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var correct: Int?
        if let labels = dataset.labels {
            correct = zip(predictions, labels).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
        }
        return EvaluationResult(samples: total, correct: correct,
                                interval: correct.map { WilsonInterval(correct: $0, samples: total) },
                                seconds: seconds, batch: batch, classes: classes,
                                logits: keepLogits ? logits : nil, predictions: predictions)
    }
}
