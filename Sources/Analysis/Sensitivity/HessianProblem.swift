import Executor
import Foundation
import Kernels

/// The Hessian of one loss over the first `samples` samples of a data set with respect to every
/// quantizable weight, as a Hessian-vector-product operator: what Hutchinson (`HessianTraceEstimator`)
/// and power iteration (`HessianEigenvalueEstimator`) both apply.
///
/// The loss is the mean cross-entropy with the data's labels when they score a `[N, classes]`
/// output; otherwise, against the FP32 model's own outputs on the same samples, the KL divergence of
/// the last-axis softmax (logits, averaged over positions) or the mean squared error (embeddings and
/// other continuous outputs). At the FP32 weights both are zero with zero gradient, and their
/// Hessian is the Gauss-Newton matrix of the output. The samples are processed in chunks sized for a
/// memory budget. Each chunk has its own engine, prepared once (forward and backward pass): every
/// product reuses the prepared passes.
///
/// With several threads the chunks are split between lanes, one per thread, and each lane runs its
/// chunks' passes single-threaded, side by side with the other lanes: a ViT pass is a few hundred
/// narrow steps (17 tokens × 64 features), and splitting each of them between the threads cost a
/// fork and join per step and left a core idle at every uneven split. The engines of one lane
/// share one set of tangent buffers (`TangentStorage`, the bulk of the memory), so the budget pays
/// for one chunk's tangents per lane. Results are summed in chunk order, so they do not depend on
/// which lane finished first.
///
/// Only when even the chunks' primal values and adjoints do not fit the budget do the chunks share
/// one engine (one lane, all threads inside each step), and each product re-prepares each chunk (a
/// forward and backward pass of every sample per product: about a fifth of a ViT product's time).
final class HessianProblem {
    let model: Model
    let samples: Int
    /// The loss at the analysed weights (mean over the samples).
    private(set) var loss: Double = 0
    /// Which loss the problem differentiates (`LossTarget.name`).
    let lossKind: String
    private enum LossChoice { case labels, kl, mse }
    private let lossChoice: LossChoice
    /// Parameter count of each layer's weight, model order.
    let counts: [Int]
    /// One engine per chunk of samples (or one shared engine, see `reprepares`); chunk i runs on lane i % lanes.
    private var chunks: [(engine: ReverseMode, first: Int, count: Int)] = []
    /// Lanes running chunks side by side (1: the chunks run one after another).
    private let lanes: Int
    /// Whether chunks share engines and are re-prepared before each product (see the type's comment).
    private let reprepares: Bool
    private var targets: [LossTarget] = []
    private let data: Dataset
    /// The largest number of directions `products` takes at once.
    private let maxProbes: Int
    /// The (H·v)_l buffers of lanes 1... for `products` (`maxProbes` copies of each layer's weight),
    /// allocated on first use and kept: a fresh buffer per call is a page fault per 4 KiB per product.
    private var laneProducts: [[UnsafeMutablePointer<Float>]]?

    /// Compiles the passes for `samples` samples of `data` and runs them once (loss and gradients).
    /// `probes` is the largest number of directions `products` will be given at once; `chunk` the
    /// samples per compiled pass (0: the largest that fits `memoryBudgetFloats`, as equal chunks,
    /// the same number per lane).
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
        self.counts = model.layers.map(\.parameterCount)
        self.maxProbes = max(1, probes)
        // Floats per sample: primal values and adjoints (2 copies of every value) and, per probe,
        // tangents, tangent adjoints and kept outputs (at most 3 copies).
        let single = try ReverseMode(model: model, batch: 1, sampleShapes: data.sampleShapes, threads: 1)
        let perSample = single.valueFloats
        let layout = OutputLayout.infer(model: model, outputShape: single.compiled.outputTypes[0].shape)
        lossChoice = data.labels != nil && layout.isClassifier ? .labels : (layout.kind == .logits ? .kl : .mse)
        switch lossChoice {
        case .labels: lossKind = LossTarget.labels([]).name
        case .kl: lossKind = LossTarget.probabilities([]).name
        case .mse: lossKind = LossTarget.outputs([]).name
        }
        let keptPerSample = 2 * perSample, tangentPerSample = 3 * max(1, probes) * perSample
        // Prepared chunks keep every sample's primal values and adjoints; the tangents are one chunk's per lane.
        let keepsAll = keptPerSample * samples
        let budget = memoryBudgetFloats
        func fits(chunk: Int, lanes: Int) -> Bool { keepsAll + lanes * tangentPerSample * chunk <= budget }
        let threads = max(1, threads)
        var lanes = min(threads, samples)
        var chunk = requested
        if chunk <= 0 {
            chunk = keepsAll < budget ? (budget - keepsAll) / max(1, lanes * tangentPerSample) : 0
            if chunk >= 1 {
                // As few equal chunks as fit, a whole number per lane.
                let perLane = ((samples + chunk - 1) / chunk + lanes - 1) / lanes
                chunk = (samples + lanes * perLane - 1) / (lanes * perLane)
            } else {
                lanes = 1
                chunk = keepsAll < budget ? (budget - keepsAll) / max(1, tangentPerSample)
                    : budget / max(1, keptPerSample + tangentPerSample)
            }
        }
        chunk = max(1, min(chunk, samples))
        lanes = min(lanes, (samples + chunk - 1) / chunk)
        if !fits(chunk: chunk, lanes: lanes) { lanes = 1 }
        reprepares = chunk < samples && !fits(chunk: chunk, lanes: 1)
        if reprepares { lanes = 1 }
        self.lanes = lanes
        let engineThreads = lanes > 1 ? max(1, threads / lanes) : threads
        let storages = (0..<lanes).map { _ in TangentStorage() }
        func engine(batch: Int, lane: Int) throws -> ReverseMode {
            try ReverseMode(model: model, batch: batch, sampleShapes: data.sampleShapes, threads: engineThreads,
                            tangentStorage: storages[lane])
        }
        var ranges: [(first: Int, count: Int)] = []
        var first = 0
        while first < samples {
            ranges.append((first, min(chunk, samples - first)))
            first += chunk
        }
        let labels = lossChoice == .labels ? data.labels.map { Array($0.prefix(samples)) } : nil
        if reprepares {
            let shared = try engine(batch: chunk, lane: 0)
            let sharedRest = samples % chunk != 0 ? try engine(batch: samples % chunk, lane: 0) : nil
            for (first, n) in ranges {
                let own = n == chunk ? shared : sharedRest!
                chunks.append((own, first, n))
                targets.append(try target(engine: own, first: first, count: n, labels: labels))
            }
            for index in chunks.indices { loss += try prepare(index) }
            return
        }
        // Each lane compiles, targets and prepares its own chunks.
        let built = try forEachLane(chunks: ranges.count) { index in
            let (first, n) = ranges[index]
            let own = try engine(batch: n, lane: index % lanes)
            let target = try target(engine: own, first: first, count: n, labels: labels)
            let chunkLoss = try prepare(engine: own, first: first, target: target)
            return (own, target, chunkLoss)
        }
        for (index, (own, target, chunkLoss)) in built.enumerated() {
            chunks.append((own, ranges[index].first, ranges[index].count))
            targets.append(target)
            loss += chunkLoss
        }
    }

    deinit {
        for buffers in laneProducts ?? [] { for buffer in buffers { buffer.deallocate() } }
    }

    /// The loss target of the chunk of `count` samples from `first`: its labels, or the FP32
    /// model's probabilities or outputs on them (computed with `engine`).
    private func target(engine: ReverseMode, first: Int, count: Int, labels: [Int]?) throws -> LossTarget {
        if let labels { return .labels(Array(labels[first..<(first + count)])) }
        return try data.withInputs(from: first) { inputs in
            lossChoice == .kl ? .probabilities(try engine.forwardProbabilities(inputs: inputs))
                : .outputs(try engine.forwardOutputs(inputs: inputs))
        }
    }

    private func prepare(engine: ReverseMode, first: Int, target: LossTarget) throws -> Double {
        let scale = Float(1) / Float(samples)
        return try data.withInputs(from: first) { try engine.prepare(inputs: $0, target: target, scale: scale) }
    }

    private func prepare(_ index: Int) throws -> Double {
        try prepare(engine: chunks[index].engine, first: chunks[index].first, target: targets[index])
    }

    /// `body(chunk)` for every chunk index, chunk i on lane i % lanes, the lanes side by side; the
    /// results in chunk order. The first error (in chunk order) is rethrown after all lanes stopped.
    private func forEachLane<T>(chunks count: Int, _ body: (Int) throws -> T) throws -> [T] {
        var results = [Result<T, Error>?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { slots in
            Parallel.forEach(lanes, threads: lanes) { lane in
                for index in stride(from: lane, to: count, by: lanes) {
                    slots[index] = Result { try body(index) }
                    if case .failure = slots[index]! { return }
                }
            }
        }
        return try results.compactMap { try $0?.get() }
    }

    /// Sets `results[l]` to (H·v)_l for `probes` directions (`directions[l]`, `results[l]`: `probes`
    /// probe-major copies of layer l's weight, model order). H is the Hessian over all the samples.
    func products(directions: [UnsafePointer<Float>], probes: Int, results: [UnsafeMutablePointer<Float>]) throws {
        precondition(probes <= maxProbes, "more directions than the problem was built for")
        // Lane 0 adds into `results`, the others into their own buffers, added in lane order.
        let own = laneProducts ?? (1..<lanes).map { _ in
            counts.map { UnsafeMutablePointer<Float>.allocate(capacity: max(1, maxProbes * $0)) }
        }
        laneProducts = own
        let laneResults = [results] + own
        for buffers in laneResults { for l in counts.indices { buffers[l].update(repeating: 0, count: probes * counts[l]) } }
        _ = try forEachLane(chunks: chunks.count) { index in
            if reprepares { _ = try prepare(index) }
            chunks[index].engine.hessianVectorProducts(directions: directions, probes: probes, results: laneResults[index % lanes])
        }
        for buffers in laneResults.dropFirst() {
            for l in counts.indices { addInPlace(results[l], buffers[l], count: probes * counts[l], threads: 1) }
        }
    }

    /// v_lᵀ(H·v)_l for every layer l and probe (`[layer][probe]`), summed over the chunks: the
    /// per-layer Hutchinson samples, without forming Hv where a layer's rule knows the quadratic form
    /// directly (`ReverseMode.hessianQuadraticForms`).
    func quadraticForms(directions: [UnsafePointer<Float>], probes: Int) throws -> [[Double]] {
        let perChunk = try forEachLane(chunks: chunks.count) { index in
            if reprepares { _ = try prepare(index) }
            return chunks[index].engine.hessianQuadraticForms(directions: directions, probes: probes)
        }
        var total = [[Double]](repeating: [Double](repeating: 0, count: probes), count: counts.count)
        for forms in perChunk {
            for l in counts.indices { for p in 0..<probes { total[l][p] += forms[l][p] } }
        }
        return total
    }
}
