import Executor
import Foundation
import Kernels

/// The empirical Fisher diagonal of every quantizable layer's weight (SqueezeLLM):
/// the k-means sample weights of sensitivity-weighted `lut` quantization.
///
/// `F_i = Σ_s (∂ℓ_s/∂w_i)²` over the calibration samples s, where ℓ_s is the loss of sample s alone.
/// These are squares of **per-sample** gradients, summed, not the square of the batch gradient: the
/// reference runs batch 1 and a backward hook squares each sample's gradient before `.grad`
/// accumulates it, and only per-sample squares estimate E[g²] (the square of a summed gradient
/// would let samples cancel and measures the mean gradient, ~0 at a trained optimum).
///
/// Loss per sample: cross-entropy with the sample's label (`[N, classes]` logits with labels).
/// Without labels, for logits, cross-entropy with the FP32 model's own top-1 class at every position
/// (a pseudo-label; averaged over a sample's positions). For embeddings and other continuous
/// outputs, the projection rᵀy on a Rademacher vector r drawn per sample (seeded by the sample
/// index): E[(Jᵀr)²] is the diagonal of JᵀJ, the Fisher of a unit-variance Gaussian output model.
/// Not the KL or squared error to the FP32 output that the Hessian analysis uses without labels: at
/// the FP32 weights those are at their minimum, so their gradient is exactly zero and would give no
/// weighting at all.
///
/// Values are in the units of (loss / weight)², accumulated in Double and stored as Float. The sum
/// is deterministic: samples are split into `partitions` fixed ranges (independent of the thread
/// count), each summed in sample order, and the ranges added in order.
public struct FisherDiagonal: Sendable {
    /// Per quantizable layer, by name: F in the weight tensor's own layout (same shape as the weight).
    public let layers: [String: [Float]]
    /// Calibration samples summed over.
    public let samples: Int
    /// "cross-entropy" with labels; without, "cross-entropy-fp32-top1" for logits and
    /// "random-projection" for continuous outputs.
    public let lossKind: String
    public let seconds: Double

    /// Fixed sample ranges summed separately (and in parallel): the result does not depend on threads.
    public static let partitions = 4

    public init(layers: [String: [Float]], samples: Int, lossKind: String, seconds: Double) {
        self.layers = layers
        self.samples = samples
        self.lossKind = lossKind
        self.seconds = seconds
    }

    /// F for the layer named `name`, or nil when it was not computed.
    public func values(forLayer name: String) -> [Float]? { layers[name] }

    /// Computes F on the first `samples` samples of `data` (clamped to the data's size, at least 1).
    ///
    /// - Throws: `QScopeError` when the model has no quantizable layers or no backward pass for one of
    ///   its ops (as `ReverseMode` reports it), when a label is out of range, or when a value comes out
    ///   non-finite (the k-means these feed must never see a bad sample weight); `CancellationError` when
    ///   `isCancelled` turns true (checked between samples).
    public static func compute(model: Model, data: Dataset, samples requested: Int,
                               threads: Int = Parallel.maxThreads,
                               isCancelled: @Sendable () -> Bool = { false }) throws -> FisherDiagonal {
        let start = DispatchTime.now().uptimeNanoseconds
        guard !model.layers.isEmpty else { throw QScopeError(file: model.path, "the model has no quantizable layers") }
        guard data.count > 0 else { throw QScopeError(file: data.source, "has no samples") }
        let total = max(1, min(requested, data.count))
        let layers = model.layers
        let probe = try ReverseMode(model: model, batch: 1, sampleShapes: data.sampleShapes, threads: 1)
        let layout = OutputLayout.infer(model: model, outputShape: probe.compiled.outputTypes[0].shape)
        let labels = layout.isClassifier ? data.labels.map { Array($0.prefix(total)) } : nil
        let ranges = (0..<partitions).map { p in (p * total / partitions)..<((p + 1) * total / partitions) }.filter { !$0.isEmpty }
        // One engine per range (batch 1 for per-sample gradients; not thread-safe, so never shared).
        let engines = try [probe] + ranges.dropFirst().map { _ in
            try ReverseMode(model: model, batch: 1, sampleShapes: data.sampleShapes, threads: 1)
        }
        let boxes = ranges.map { _ in UnsafeMutableBox(layers.map { [Double](repeating: 0, count: $0.parameterCount) }) }
        let failure = UnsafeMutableBox<Error?>(nil)
        let failureLock = NSLock()
        Parallel.forEach(ranges.count, threads: max(1, threads)) { r in
            let engine = engines[r]
            do {
                for s in ranges[r] {
                    if isCancelled() { throw CancellationError() }
                    let target = try data.withInputs(from: s) { inputs -> LossTarget in
                        if let labels { return .labels([labels[s]]) }
                        return layout.kind == .logits ? .probabilities(Self.pseudoLabels(try engine.forwardOutputs(inputs: inputs), classes: layout.classes))
                            : .cotangent(Self.rademacher(count: layout.sampleSize, seed: UInt64(s)))
                    }
                    _ = try data.withInputs(from: s) { try engine.prepare(inputs: $0, target: target, scale: 1) }
                    for (l, layer) in layers.enumerated() {
                        guard let g = engine.gradient(layer.weight) else { continue }
                        boxes[r].value[l].withUnsafeMutableBufferPointer { acc in
                            for i in 0..<acc.count { acc[i] += Double(g[i]) * Double(g[i]) }
                        }
                    }
                }
            } catch {
                failureLock.lock()
                if failure.value == nil { failure.value = error }
                failureLock.unlock()
            }
        }
        if let error = failure.value {
            if error is CancellationError { throw error }
            throw (error as? QScopeError)?.inFile(model.path) ?? QScopeError(file: model.path, "Fisher diagonal: \(error)")
        }
        var result: [String: [Float]] = [:]
        for (l, layer) in layers.enumerated() {
            var f = [Float](repeating: 0, count: layer.parameterCount)
            for i in f.indices {
                var sum = 0.0
                for r in boxes.indices { sum += boxes[r].value[l][i] }
                f[i] = Float(sum)
            }
            if let bad = f.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
                throw QScopeError(file: model.path, "layer '\(layer.name)': Fisher value \(f[bad]) at weight \(bad) is not a finite number ≥ 0")
            }
            result[layer.name] = f
        }
        let lossKind = labels != nil ? "cross-entropy" : (layout.kind == .logits ? "cross-entropy-fp32-top1" : "random-projection")
        return FisherDiagonal(layers: result, samples: total, lossKind: lossKind,
                              seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// One-hot rows of the top-1 class of each row of `outputs` (rows of `classes` values): the
    /// pseudo-label target; KL to a one-hot row is the cross-entropy with that class.
    static func pseudoLabels(_ outputs: [Float], classes: Int) -> [Float] {
        var target = [Float](repeating: 0, count: outputs.count)
        outputs.withUnsafeBufferPointer { rows in
            for row in 0..<(outputs.count / max(classes, 1)) {
                target[row * classes + argmax(rows.baseAddress! + row * classes, count: classes)] = 1
            }
        }
        return target
    }

    /// `count` values of ±1, from `seed` (the sample index: the same draws at every thread count).
    static func rademacher(count: Int, seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: 0x5EED_F15E ^ seed &* 0x9E37_79B9_7F4A_7C15)
        return (0..<count).map { _ in generator.next() & 1 == 0 ? 1 : -1 }
    }
}

/// A mutable value one parallel task owns (each task writes only its own box).
private final class UnsafeMutableBox<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
