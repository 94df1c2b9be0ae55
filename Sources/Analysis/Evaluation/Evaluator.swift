import Executor
import Foundation
import Kernels

/// One model's pass over a data set: its first output, scored, and what it took to compute.
public struct EvaluationResult: Sendable {
    public var samples: Int
    public var seconds: Double
    public var batch: Int
    /// The first output's layout (shape per sample, logits or embedding).
    public var layout: OutputLayout
    /// Top-1 correct predictions; nil unless the data has labels and the output is `[N, classes]` logits.
    public var correct: Int?
    public var interval: WilsonInterval?
    /// The first output, `samples × layout.sampleSize` values, when requested.
    public var outputs: [Float]?
    /// Every fidelity metric against the reference the evaluation was given (nil without one).
    public var fidelity: FidelityMetrics?

    public var accuracy: Double? { correct.map { Double($0) / Double(max(samples, 1)) } }
    public var imagesPerSecond: Double { seconds > 0 ? Double(samples) / seconds : 0 }
    /// The last axis' length of the output (classes of a classifier).
    public var classes: Int { layout.classes }
}

/// Runs a model over a dataset in batches and scores its first output.
///
/// Compiled graphs are cached per batch size (the last partial batch gets its own), so evaluating
/// again costs only the forward passes.
public final class Evaluator: @unchecked Sendable {
    public let model: Model
    /// One sample shape per model input.
    public let sampleShapes: [[Int]]
    private var compiled: [Int: CompiledGraph] = [:]
    private var outputSampleShape: [Int]?

    public init(model: Model, sampleShapes: [[Int]]) {
        self.model = model
        self.sampleShapes = sampleShapes
    }

    /// The compiled graph for `batch` samples (cached).
    /// - Throws: when the first output does not keep the samples first with the same shape per sample
    ///   at every batch size (an output reduced over the batch, or samples folded into another axis):
    ///   per-sample metrics cannot follow it.
    public func graph(batch: Int) throws -> CompiledGraph {
        if let existing = compiled[batch] { return existing }
        let graph = try model.compile(batch: batch, sampleShapes: sampleShapes)
        let shape = graph.outputTypes.first?.shape ?? []
        let perSample = Array(shape.dropFirst())
        guard shape.first == batch, outputSampleShape == nil || outputSampleShape == perSample else {
            let name = model.graph.valueNames[model.graph.outputIDs[0]]
            throw QScopeError(file: model.path, "the first output '\(name)' has shape \(shape) for a batch of \(batch)"
                              + (outputSampleShape.map { " (per sample \($0) at another batch size)" } ?? "")
                              + "; qscope scores outputs whose first dimension is the sample")
        }
        outputSampleShape = perSample
        compiled[batch] = graph
        return graph
    }

    /// Evaluates `dataset` (already bound to the model's inputs) with batches of `batch` samples.
    ///
    /// - Parameters:
    ///   - keepOutputs: return the first output of every sample (for a reference, or `--outputs`).
    ///   - reference: the FP32 outputs on the same samples: every fidelity metric is computed
    ///     against them. Its layout (which may be a user's override of the kind) is used for scoring.
    /// - Throws: a runtime fault of the model (an index out of range) naming the node.
    public func evaluate(_ dataset: Dataset, batch: Int = 256, keepOutputs: Bool = false,
                         reference: FidelityReference? = nil) throws -> EvaluationResult {
        let total = dataset.count
        let batch = max(1, min(batch, max(total, 1)))
        let first = try graph(batch: batch)
        let layout = reference?.layout ?? OutputLayout.infer(model: model, outputShape: first.outputTypes[0].shape)
        if let reference, reference.samples != total {
            throw QScopeError(file: dataset.source, "the reference outputs cover \(reference.samples) samples, the data \(total)")
        }
        let scoresLabels = dataset.labels != nil && layout.isClassifier
        if scoresLabels { try dataset.validateLabels(classes: layout.classes) }
        let size = layout.sampleSize, classes = max(layout.classes, 1)
        var outputs: [Float] = keepOutputs ? [Float](repeating: 0, count: total * size) : []
        var correct = 0
        var tally = FidelityTally()
        let start = DispatchTime.now().uptimeNanoseconds
        var offset = 0
        while offset < total {
            let n = min(batch, total - offset)
            let graph = try self.graph(batch: n)
            dataset.withInputs(from: offset) { graph.run($0) }
            if let fault = graph.takeRuntimeFault() { throw fault.inFile(model.path) }
            let out = graph.output(0).baseAddress!
            if scoresLabels, let labels = dataset.labels {
                for i in 0..<n where argmax(out + i * classes, count: classes) == labels[offset + i] { correct += 1 }
            }
            if let reference { tally.add(outputs: out, first: offset, count: n, reference: reference) }
            if keepOutputs {
                outputs.withUnsafeMutableBufferPointer { $0.baseAddress!.advanced(by: offset * size).update(from: out, count: n * size) }
            }
            offset += n
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return EvaluationResult(samples: total, seconds: seconds, batch: batch, layout: layout,
                                correct: scoresLabels ? correct : nil,
                                interval: scoresLabels ? WilsonInterval(correct: correct, samples: total) : nil,
                                outputs: keepOutputs ? outputs : nil,
                                fidelity: reference.map { tally.metrics(reference: $0) })
    }
}
