import Executor
import Foundation
import Kernels

/// Settings of the per-layer top-eigenvalue power iteration (as PyHessian computes it).
public struct EigenvalueOptions: Sendable {
    /// Use the first N samples of the data (the same loss as the traces).
    public var samples = 512
    /// Iteration cap per layer (PyHessian's `maxIter`).
    public var maxIterations = 100
    /// Stop a layer when `|λ − λ_prev| / (|λ_prev| + 1e-6)` is below this (PyHessian's `tol`).
    public var tolerance = 1e-3
    /// Seed of the Gaussian start vectors.
    public var seed: UInt64 = 0
    /// Layers iterated together in one multi-probe Hessian-vector pass.
    public var probeBatch = 8
    /// Samples per compiled pass; 0 sizes it for `memoryBudgetFloats` (see `HessianOptions`).
    public var chunk = 0
    public var memoryBudgetFloats = 1 << 28
    public var threads = Parallel.maxThreads

    public init() {}
}

/// The top eigenvalue of each quantizable layer's diagonal Hessian block H_ll, by power iteration
/// (PyHessian `eigenvalues`, HAWQ v1).
///
/// Per layer: `v` starts as a seeded Gaussian vector over the layer's weight, normalised; each step
/// computes `w = H_ll v` exactly (a Hessian-vector product whose direction is zero outside the layer,
/// reading back only the layer's block), `λ = vᵀw`, `v ← w/‖w‖`; it stops when the relative change
/// of λ is below the tolerance (at least two steps) or at the cap. Layers are batched: each probe slot
/// of a multi-probe pass carries one layer's vector, and a layer leaves the batch when it converges.
/// Power iteration finds the eigenvalue of largest magnitude; deterministic for a seed (the start
/// vector of a layer depends only on the seed and the layer's index).
public enum HessianEigenvalueEstimator {
    /// `progress` is called with each layer's result (model order index) as soon as it converges or
    /// reaches the cap; `isCancelled` is checked between passes and throws `CancellationError`.
    public static func run(model: Model, data: Dataset, options: EigenvalueOptions = EigenvalueOptions(),
                           progress: ((Int, LayerEigenvalue) -> Void)? = nil,
                           isCancelled: () -> Bool = { false }) throws -> [LayerEigenvalue] {
        guard options.maxIterations >= 1 else { throw QScopeError("the power iteration needs at least one step") }
        let probeBatch = max(1, min(options.probeBatch, model.layers.count))
        let problem = try HessianProblem(model: model, data: data, samples: options.samples, probes: probeBatch,
                                         chunk: options.chunk, memoryBudgetFloats: options.memoryBudgetFloats,
                                         threads: options.threads)
        return try run(problem, options: options, probeBatch: probeBatch, progress: progress, isCancelled: isCancelled)
    }

    static func run(_ problem: HessianProblem, options: EigenvalueOptions, probeBatch: Int,
                    progress: ((Int, LayerEigenvalue) -> Void)?, isCancelled: () -> Bool) throws -> [LayerEigenvalue] {
        let layers = problem.model.layers
        let counts = problem.counts
        var vectors = layers.indices.map { l in startVector(seed: options.seed, layer: l, count: counts[l]) }
        var eigenvalue = [Double?](repeating: nil, count: layers.count)
        var iterations = [Int](repeating: 0, count: layers.count)
        var results = [LayerEigenvalue?](repeating: nil, count: layers.count)
        let directions = counts.map { UnsafeMutablePointer<Float>.allocate(capacity: probeBatch * $0) }
        let products = counts.map { UnsafeMutablePointer<Float>.allocate(capacity: probeBatch * $0) }
        defer {
            for buffer in directions { buffer.deallocate() }
            for buffer in products { buffer.deallocate() }
        }
        func finish(_ l: Int, converged: Bool) {
            let result = LayerEigenvalue(name: layers[l].name, parameters: counts[l], eigenvalue: eigenvalue[l] ?? 0,
                                         iterations: iterations[l], converged: converged)
            results[l] = result
            progress?(l, result)
        }
        var active = Array(layers.indices)
        while !active.isEmpty {
            if isCancelled() { throw CancellationError() }
            // Fill the batch in layer order; slot p carries layer group[p]'s vector, zero elsewhere.
            let group = Array(active.prefix(probeBatch))
            let probes = group.count
            for l in layers.indices { directions[l].update(repeating: 0, count: probes * counts[l]) }
            for (p, l) in group.enumerated() {
                vectors[l].withUnsafeBufferPointer { v in
                    for i in 0..<counts[l] { directions[l][p * counts[l] + i] = Float(v[i]) }
                }
            }
            try problem.products(directions: directions.map { UnsafePointer($0) }, probes: probes, results: products)
            for (p, l) in group.enumerated() {
                let w = products[l] + p * counts[l]
                var rayleigh = 0.0, norm = 0.0
                vectors[l].withUnsafeBufferPointer { v in
                    for i in 0..<counts[l] {
                        let x = Double(w[i])
                        rayleigh += v[i] * x
                        norm += x * x
                    }
                }
                norm = norm.squareRoot()
                iterations[l] += 1
                let previous = eigenvalue[l]
                eigenvalue[l] = rayleigh
                if norm == 0 || !norm.isFinite {
                    // H_ll v = 0 (a block with no curvature, e.g. a dead layer): λ = 0 exactly.
                    finish(l, converged: norm == 0)
                    continue
                }
                for i in 0..<counts[l] { vectors[l][i] = Double(w[i]) / norm }
                if let previous, abs(rayleigh - previous) / (abs(previous) + 1e-6) < options.tolerance {
                    finish(l, converged: true)
                } else if iterations[l] >= options.maxIterations {
                    finish(l, converged: false)
                }
            }
            active.removeAll { results[$0] != nil }
        }
        return results.map { $0! }
    }

    /// A unit vector of `count` standard normal draws (Box–Muller on a SplitMix64 stream keyed by
    /// seed and layer).
    static func startVector(seed: UInt64, layer: Int, count: Int) -> [Double] {
        var generator = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(layer) &* 0xD1B5_4A32_D192_ED03 &+ 0x2545_F491_4F6C_DD1D)
        func next() -> Double { generator.nextOpenUnitInterval() }
        var v = [Double](repeating: 0, count: count)
        var i = 0
        while i < count {
            let (u1, u2) = (next(), next())
            let r = (-2 * Foundation.log(u1)).squareRoot()
            v[i] = r * Foundation.cos(2 * Double.pi * u2)
            if i + 1 < count { v[i + 1] = r * Foundation.sin(2 * Double.pi * u2) }
            i += 2
        }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return norm > 0 ? v.map { $0 / norm } : v
    }
}
