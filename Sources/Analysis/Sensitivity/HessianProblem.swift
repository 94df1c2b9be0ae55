import Foundation
import Kernels

/// The Hessian of one loss over the first `samples` samples of a data set with respect to every
/// quantizable weight, as a Hessian-vector-product operator: what Hutchinson (`HessianTraceEstimator`)
/// and power iteration (`HessianEigenvalueEstimator`) both apply.
///
/// The loss is the mean cross-entropy with the data's labels, or without labels the KL divergence
/// to the FP32 model's own softmax (same samples). The samples are processed in chunks sized for a
/// memory budget. Each chunk has its own engine, prepared once (forward and backward pass), and the
/// engines share one set of tangent buffers (`TangentStorage`, the bulk of the memory): every
/// product reuses the prepared passes. Only when even the chunks' primal values and adjoints do not
/// fit the budget do the chunks share one engine and each product re-prepares each chunk (a forward
/// and backward pass of every sample per product: about a fifth of a ViT product's time).
final class HessianProblem {
    let model: Model
    let samples: Int
    /// The loss at the analysed weights (mean over the samples).
    private(set) var loss: Double = 0
    let hasLabels: Bool
    /// Parameter count of each layer's weight, model order.
    let counts: [Int]
    private var chunks: [(engine: ReverseMode, first: Int, count: Int)] = []
    /// Whether chunks share engines and are re-prepared before each product (see the type's comment).
    private let reprepares: Bool
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
        // Floats per sample: primal values and adjoints (2 copies of every value) and, per probe,
        // tangents, tangent adjoints and kept outputs (at most 3 copies).
        let perSample = try ReverseMode(model: model, batch: 1, sampleShape: data.sampleShape, threads: 1).valueFloats
        let keptPerSample = 2 * perSample, tangentPerSample = 3 * max(1, probes) * perSample
        // Prepared chunks keep every sample's primal values and adjoints; the tangents are one chunk's.
        let keepsAll = keptPerSample * samples
        var chunk = requested
        if chunk <= 0 {
            chunk = keepsAll < memoryBudgetFloats ? (memoryBudgetFloats - keepsAll) / max(1, tangentPerSample)
                : memoryBudgetFloats / max(1, keptPerSample + tangentPerSample)
        }
        chunk = max(1, min(chunk, samples))
        reprepares = chunk < samples && keepsAll + tangentPerSample * chunk > memoryBudgetFloats
        let storage = TangentStorage()
        func engine(batch: Int) throws -> ReverseMode {
            try ReverseMode(model: model, batch: batch, sampleShape: data.sampleShape, threads: threads, tangentStorage: storage)
        }
        let shared = reprepares ? try engine(batch: chunk) : nil
        let sharedRest = reprepares && samples % chunk != 0 ? try engine(batch: samples % chunk) : nil
        var first = 0
        while first < samples {
            let n = min(chunk, samples - first)
            let own = reprepares ? (n == chunk ? shared! : sharedRest!) : try engine(batch: n)
            chunks.append((own, first, n))
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
            if reprepares { _ = try prepare(index) }
            chunks[index].engine.hessianVectorProducts(directions: directions, probes: probes, results: results)
        }
    }

    /// v_lᵀ(H·v)_l for every layer l and probe (`[layer][probe]`), summed over the chunks: the
    /// per-layer Hutchinson samples, without forming Hv where a layer's rule knows the quadratic form
    /// directly (`ReverseMode.hessianQuadraticForms`).
    func quadraticForms(directions: [UnsafePointer<Float>], probes: Int) throws -> [[Double]] {
        var total = [[Double]](repeating: [Double](repeating: 0, count: probes), count: counts.count)
        for index in chunks.indices {
            if reprepares { _ = try prepare(index) }
            let forms = chunks[index].engine.hessianQuadraticForms(directions: directions, probes: probes)
            for l in counts.indices { for p in 0..<probes { total[l][p] += forms[l][p] } }
        }
        return total
    }
}
