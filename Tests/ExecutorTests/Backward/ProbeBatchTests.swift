import Executor
import TestSupport
import Testing
import Analysis

/// Several probes in one tangent pass must give what the same probes give one at a time: every
/// rule indexes its probe-major copies itself (and the vectorised paths split them over threads),
/// so a wrong offset shows up here even where one probe passes the finite-difference tests.
@Suite("probe batches")
struct ProbeBatchTests {
    /// Flatten and three dense layers; `relu`: ReLU after the first two (fused), else none. The first
    /// layer's quadratic form is then added by the second (`ReverseMode`'s pairing), which these
    /// tests check against vᵀ(Hv) from the full products.
    static func mlpModel(relu: Bool) throws -> Model {
        var b = OpGradientTests.Builder()
        b.constant("w1", [8, 12]); b.constant("b1", [8], scale: 0.1)
        b.constant("w2", [8, 6]); b.constant("b2", [6], scale: 0.1)
        b.constant("wh", [3, 6]); b.constant("bh", [3], scale: 0.1)
        b.node("Flatten", ["x"], ["f"], ["axis": .int(1)])
        b.node("Gemm", ["f", "w1", "b1"], ["h1"], ["transB": .int(1)])
        if relu { b.node("Relu", ["h1"], ["r1"]) }
        b.node("Gemm", [relu ? "r1" : "h1", "w2", "b2"], ["h2"])
        if relu { b.node("Relu", ["h2"], ["r2"]) }
        b.node("Gemm", [relu ? "r2" : "h2", "wh", "bh"], ["logits"], ["transB": .int(1), "alpha": .float(0.5)])
        return try b.finish(input: [2, 6], output: "logits", classes: 3)
    }

    @Test(arguments: ["conv", "attention", "mlp", "linear"])
    func batchedProductsEqualSingleProbes(_ family: String) throws {
        let model = switch family {
        case "conv": try OpGradientTests.convModel()
        case "attention": try OpGradientTests.attentionModel()
        default: try Self.mlpModel(relu: family == "mlp")
        }
        let sampleShape = switch family {
        case "conv": [2, 8, 8]
        case "attention": [3, 4]
        default: [2, 6]
        }
        let batch = 2, probes = 3
        var rng = SeededGenerator(seed: 11)
        let input = (0..<(batch * sampleShape.reduce(1, *))).map { _ in Float.random(in: -1...1, using: &rng) }
        let engine = try ReverseMode(model: model, batch: batch, sampleShape: sampleShape)
        _ = try input.withUnsafeBufferPointer { try engine.prepare(input: $0.baseAddress!, target: .labels([0, 1]), scale: 0.5) }
        let counts = model.layers.map(\.parameterCount)
        let directions = counts.map { n in (0..<(probes * n)).map { _ in Float.random(in: -1...1, using: &rng) } }

        func products(_ chosen: [Int]) -> [[Float]] {
            let d = directions.enumerated().map { l, all in chosen.flatMap { p in all[(p * counts[l])..<((p + 1) * counts[l])] } }
            var results = counts.map { [Float](repeating: 0, count: chosen.count * $0) }
            let dp = d.map { v -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: v.count); p.initialize(from: v, count: v.count); return p
            }
            let rp = results.map { v -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: v.count); p.initialize(repeating: 0, count: v.count); return p
            }
            defer { (dp + rp).forEach { $0.deallocate() } }
            engine.hessianVectorProducts(directions: dp.map { UnsafePointer($0) }, probes: chosen.count, results: rp)
            for l in results.indices { results[l] = Array(UnsafeBufferPointer(start: rp[l], count: results[l].count)) }
            return results
        }

        let together = products(Array(0..<probes))
        for p in 0..<probes {
            let alone = products([p])
            for l in counts.indices {
                let batched = Array(together[l][(p * counts[l])..<((p + 1) * counts[l])])
                let scale = max(alone[l].map(abs).max()!, 1e-6)
                let error = zip(batched, alone[l]).map { abs($0 - $1) }.max()!
                // Same operations in the same order per element, except for split sums: float rounding.
                #expect(error <= 1e-4 * scale, "\(family) layer \(l) probe \(p): \(error / scale) relative")
            }
        }

        // The quadratic forms equal vᵀ(Hv) per layer and probe.
        let dp = directions.map { v -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: v.count); p.initialize(from: v, count: v.count); return p
        }
        defer { dp.forEach { $0.deallocate() } }
        let forms = engine.hessianQuadraticForms(directions: dp.map { UnsafePointer($0) }, probes: probes)
        for l in counts.indices {
            for p in 0..<probes {
                let range = (p * counts[l])..<((p + 1) * counts[l])
                let want = zip(directions[l][range], together[l][range]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let scale = zip(directions[l][range], together[l][range]).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                #expect(abs(forms[l][p] - want) <= 1e-4 * max(scale, 1e-9), "\(family) layer \(l) probe \(p): \(forms[l][p]) vs \(want)")
            }
        }
    }
}
