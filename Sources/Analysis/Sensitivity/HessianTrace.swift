import Executor
import Foundation
import Kernels

/// Settings of a per-layer Hessian trace estimate (Hutchinson; the "Hessian sensitivity" section of the quantization methods page in docs/).
public struct HessianOptions: Sendable {
    /// Use the first N samples of the data (all of them must exist).
    public var samples = 512

    /// The sample count when the user gives none: 512 (`samples`' default), or all of a smaller data
    /// set (an explicit count larger than the data is an error instead).
    public static func defaultSamples(for dataCount: Int) -> Int { max(1, min(HessianOptions().samples, dataCount)) }
    /// Stop at this many probes.
    public var maxProbes = 200
    /// Never stop before this many probes.
    public var minProbes = 32
    /// Stop when every layer's standard error is below this fraction of |trace|; 0 runs `maxProbes`.
    public var tolerance = 0.02
    public var seed: UInt64 = 0
    /// Probes per tangent pass (larger: bigger GEMMs, more memory).
    public var probeBatch = 8
    /// Samples per compiled pass; 0 picks the largest that keeps the passes' values within
    /// `memoryBudgetFloats`.
    public var chunk = 0
    /// Floats the retained values, adjoints, tangents and tangent adjoints may take (default 1 GiB).
    public var memoryBudgetFloats = 1 << 28
    public var threads = Parallel.maxThreads

    public init() {}
}

/// One layer's trace estimate.
public struct LayerTrace: Sendable, Equatable {
    public var name: String
    public var parameters: Int
    /// Mean of vᵀ(Hv) over the probes restricted to this layer's weight: Tr(H_ll).
    public var trace: Double
    /// Standard error of that mean (sample standard deviation / √probes).
    public var standardError: Double
    public var tracePerParameter: Double { trace / Double(max(parameters, 1)) }
    /// HAWQ-V2 Ω = trace/#params · ‖Q_b(W) − W‖² for b = 2, 3, 4, 8 (per-channel symmetric INT).
    public var omega: [Int: Double]
    /// ‖Q_b(W) − W‖² for the same bit-widths.
    public var quantizationError: [Int: Double]
}

/// The result (or a partial result while probes accumulate).
public struct HessianReport: Sendable, Equatable {
    public var layers: [LayerTrace]
    public var probes: Int
    public var seconds: Double
    /// The loss at the analysed weights (mean over the samples).
    public var loss: Double
    /// "cross-entropy" with labels, "kl-to-fp32" without.
    public var lossKind: String
    public var samples: Int
    /// True while probes are still being added, or when the run was cancelled.
    public var partial: Bool
}

/// Per-layer Hessian traces by Hutchinson's estimator with exact Hessian-vector products.
public enum HessianTraceEstimator {
    /// Estimates the trace of each quantizable layer's diagonal Hessian block.
    ///
    /// One Hv per Rademacher probe over all layers at once gives every layer's estimate (vᵀHv split by
    /// layer). `progress` is called after each batch of probes with the estimate so far; when
    /// `isCancelled` returns true the run stops after the current batch and returns a partial report.
    public static func run(model: Model, data: Dataset, options: HessianOptions = HessianOptions(),
                           progress: ((HessianReport) -> Void)? = nil, isCancelled: (() -> Bool)? = nil) throws -> HessianReport {
        let start = Date()
        guard options.maxProbes >= 1 else { throw QScopeError("--probes must be at least 1") }
        let probeBatch = max(1, min(options.probeBatch, options.maxProbes))
        let problem = try HessianProblem(model: model, data: data, samples: options.samples, probes: probeBatch,
                                         chunk: options.chunk, memoryBudgetFloats: options.memoryBudgetFloats,
                                         threads: options.threads)
        let total = options.samples
        let loss = problem.loss

        let layers = model.layers
        let counts = layers.map(\.parameterCount)
        let directions = counts.map { UnsafeMutablePointer<Float>.allocate(capacity: probeBatch * $0) }
        defer { for buffer in directions { buffer.deallocate() } }
        var sum = [Double](repeating: 0, count: layers.count), sumSquares = sum
        var probes = 0
        var cancelled = false
        let quantization = try quantizationErrors(model)

        func report(partial: Bool) -> HessianReport {
            let traces = layers.indices.map { l -> LayerTrace in
                let k = Double(max(probes, 1))
                let mean = sum[l] / k
                let variance = probes > 1 ? max(0, (sumSquares[l] - k * mean * mean) / (k - 1)) : 0
                let perParameter = mean / Double(counts[l])
                return LayerTrace(name: layers[l].name, parameters: counts[l], trace: mean, standardError: (variance / k).squareRoot(),
                                  omega: quantization[l].mapValues { perParameter * $0 }, quantizationError: quantization[l])
            }
            return HessianReport(layers: traces, probes: probes, seconds: Date().timeIntervalSince(start), loss: loss,
                                 lossKind: problem.lossKind, samples: total, partial: partial)
        }
        func converged() -> Bool {
            guard probes >= options.maxProbes || options.tolerance > 0 else { return false }
            if probes >= options.maxProbes { return true }
            guard probes >= min(options.minProbes, options.maxProbes) else { return false }
            let current = report(partial: true)
            return current.layers.allSatisfy { $0.standardError < options.tolerance * abs($0.trace) }
        }

        while !converged() {
            if isCancelled?() == true {
                cancelled = true
                break
            }
            let batch = min(probeBatch, options.maxProbes - probes)
            for l in layers.indices {
                for p in 0..<batch { rademacher(seed: options.seed, probe: probes + p, layer: l, into: directions[l] + p * counts[l], count: counts[l]) }
            }
            let samples = try problem.quadraticForms(directions: directions.map { UnsafePointer($0) }, probes: batch)
            for l in layers.indices {
                for dot in samples[l] {
                    sum[l] += dot
                    sumSquares[l] += dot * dot
                }
            }
            probes += batch
            progress?(report(partial: true))
        }
        return report(partial: cancelled)
    }

    /// Probe `probe`'s ±1 entries for layer `layer`: deterministic for the seed, independent of batching.
    /// The MiniLM reference script replays this exact stream to compare traces probe for probe, so a
    /// change here must be made there too (a test pins the first draws).
    package static func rademacher(seed: UInt64, probe: Int, layer: Int, into buffer: UnsafeMutablePointer<Float>, count: Int) {
        var generator = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(probe) &* 0xBF58_476D_1CE4_E5B9 &+ UInt64(layer) &* 0x94D0_49BB_1331_11EB)
        // One generator word per 64 entries, bit j of it (1: +1, 0: -1) for entry j of the block.
        var first = 0
        while first < count {
            let bits = generator.next()
            let block = buffer + first
            for j in 0..<min(64, count - first) {
                block[j] = Float(Int32(truncatingIfNeeded: (bits >> UInt64(j)) & 1) &* 2 &- 1)
            }
            first += 64
        }
    }

    /// ‖Q_b(W) − W‖² per layer for b = 2, 3, 4, 8 (`QuantizerSpec.int(b)`).
    static func quantizationErrors(_ model: Model) throws -> [[Int: Double]] {
        try model.layers.map { layer in
            guard let weight = model.graph.constants[layer.weight] else { return [:] }
            var errors: [Int: Double] = [:]
            for bits in [2, 3, 4, 8] {
                let q = try QuantizerSpec.int(bits).quantize(weight: weight, outputAxis: layer.outputAxis)
                var e: Double = 0
                for (a, b) in zip(q.values, weight.values) { e += Double(a - b) * Double(a - b) }
                errors[bits] = e
            }
            return errors
        }
    }
}
