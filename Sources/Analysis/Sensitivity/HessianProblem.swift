import Foundation
import Kernels

/// The Hessian of one loss over the first `samples` samples of a data set with respect to every
/// quantizable weight, as a Hessian-vector-product operator: what Hutchinson (`HessianTraceEstimator`)
/// and power iteration (`HessianEigenvalueEstimator`) both apply.
///
/// The loss is the mean cross-entropy with the data's labels, or without labels the KL divergence
/// to the FP32 model's own softmax (same samples). The samples are processed in chunks sized for a
/// memory budget; with one chunk the forward and backward passes run once (`prepare`) and every
/// product reuses them, with several each product re-prepares each chunk.
final class HessianProblem {
    let model: Model
    let samples: Int
    /// The loss at the analysed weights (mean over the samples).
    private(set) var loss: Double = 0
    let hasLabels: Bool
    /// Parameter count of each layer's weight, model order.
    let counts: [Int]
    private var chunks: [(engine: ReverseMode, first: Int, count: Int)] = []
    private var targets: [LossTarget] = []
    private let data: Dataset

    /// Compiles the passes for `samples` samples of `data` and runs them once (loss and gradients).
    /// `probes` is the largest number of directions `products` will be given at once.
    init(model: Model, data: Dataset, samples: Int, probes: Int, chunk requested: Int, memoryBudgetFloats: Int,
         threads: Int) throws {
        guard samples >= 1 else { throw QScopeError("--hessian-samples must be at least 1") }
        guard samples <= data.count else {
            throw QScopeError(file: data.source, "--hessian-samples \(samples) is larger than the data (\(data.count) samples)")
        }
        guard !model.layers.isEmpty else { throw QScopeError(file: model.path, "the model has no quantizable layers") }
        self.model = model
        self.samples = samples
        self.data = data
        self.hasLabels = data.labels != nil
        self.counts = model.layers.map(\.parameterCount)
        var chunk = requested
        if chunk <= 0 {
            let one = try ReverseMode(model: model, batch: 1, sampleShape: data.sampleShape, threads: 1)
            chunk = memoryBudgetFloats / max(1, one.valueFloats * (2 + 3 * max(1, probes)))
        }
        chunk = max(1, min(chunk, samples))
        let main = try ReverseMode(model: model, batch: chunk, sampleShape: data.sampleShape, threads: threads)
        let rest = samples % chunk == 0 ? nil
            : try ReverseMode(model: model, batch: samples % chunk, sampleShape: data.sampleShape, threads: threads)
        var first = 0
        while first < samples {
            let n = min(chunk, samples - first)
            chunks.append((n == chunk ? main : rest!, first, n))
            first += n
        }
        let sampleSize = data.sampleSize
        let labels = data.labels.map { Array($0.prefix(samples)) }
        for (engine, first, n) in chunks {
            if let labels {
                targets.append(.labels(Array(labels[first..<(first + n)])))
            } else {
                let probabilities = data.x.withUnsafeBufferPointer { engine.forwardProbabilities(input: $0.baseAddress! + first * sampleSize) }
                targets.append(.probabilities(probabilities))
            }
        }
        for index in chunks.indices { loss += try prepare(index) }
    }

    /// "cross-entropy" with labels, "kl-to-fp32" without.
    var lossKind: String { hasLabels ? "cross-entropy" : "kl-to-fp32" }

    private func prepare(_ index: Int) throws -> Double {
        let (engine, first, _) = chunks[index]
        let scale = Float(1) / Float(samples)
        return try data.x.withUnsafeBufferPointer {
            try engine.prepare(input: $0.baseAddress! + first * data.sampleSize, target: targets[index], scale: scale)
        }
    }

    /// Sets `results[l]` to (H·v)_l for `probes` directions (`directions[l]`, `results[l]`: `probes`
    /// probe-major copies of layer l's weight, model order). H is the Hessian over all the samples.
    func products(directions: [UnsafePointer<Float>], probes: Int, results: [UnsafeMutablePointer<Float>]) throws {
        for l in counts.indices { results[l].update(repeating: 0, count: probes * counts[l]) }
        for index in chunks.indices {
            if chunks.count > 1 { _ = try prepare(index) }
            chunks[index].engine.hessianVectorProducts(directions: directions, probes: probes, results: results)
        }
    }

    /// v_lᵀ(H·v)_l for every layer l and probe (`[layer][probe]`), summed over the chunks: the
    /// per-layer Hutchinson samples, without forming Hv where a layer's rule knows the quadratic form
    /// directly (`ReverseMode.hessianQuadraticForms`).
    func quadraticForms(directions: [UnsafePointer<Float>], probes: Int) throws -> [[Double]] {
        var total = [[Double]](repeating: [Double](repeating: 0, count: probes), count: counts.count)
        for index in chunks.indices {
            if chunks.count > 1 { _ = try prepare(index) }
            let forms = chunks[index].engine.hessianQuadraticForms(directions: directions, probes: probes)
            for l in counts.indices { for p in 0..<probes { total[l][p] += forms[l][p] } }
        }
        return total
    }
}
