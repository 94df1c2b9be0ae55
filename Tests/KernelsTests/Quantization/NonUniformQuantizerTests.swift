import Kernels
import Testing

@Suite("non-uniform quantizers")
struct NonUniformQuantizerTests {
    /// Peaked, long-tailed test weights (u^3), 6 rows × 50.
    static func weights(seed: UInt64) -> [Float] {
        var rng = TestRNG(seed: seed)
        return rng.floats(300, -1, 1).map { $0 * $0 * $0 }
    }

    @Test("pow: a = 1 is the symmetric integer grid; outputs lie on ±(k·s)^(1/a)")
    func power() {
        let w = Self.weights(seed: 1)
        let uniform = PowerQuantizer(bits: 4, exponent: 1).quantize(w, rows: 6, columns: 50)
        #expect(uniform.codes == IntegerQuantizer(bits: 4).quantize(w, rows: 6, columns: 50).codes)
        let q = PowerQuantizer(bits: 3, exponent: 0.5)
        let encoded = q.quantize(w, rows: 6, columns: 50)
        let deq = q.dequantize(encoded)
        for i in 0..<w.count {
            let s = Double(encoded.scales[i / 50])
            let grid = (-3...3).map { k in Float((k < 0 ? -1.0 : 1.0) * (Double(abs(k)) * s) * (Double(abs(k)) * s)) }
            #expect(grid.contains { abs($0 - deq[i]) <= 1e-6 * max(abs($0), 1e-9) })
        }
        #expect(q.bits(for: encoded) == StorageBits(payload: 300 * 3, metadata: 6 * 32 + 32))
        // The search returns the candidate with the least error, and on peaked weights that is below 1.
        let a = PowerQuantizer.searchExponent(w, rows: 6, columns: 50, bits: 3)
        func error(_ a: Double) -> Double {
            zip(w, PowerQuantizer(bits: 3, exponent: a).fakeQuantize(w, rows: 6, columns: 50)).reduce(0) {
                $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1))
            }
        }
        #expect(a < 1)
        for candidate in PowerQuantizer.exponentCandidates { #expect(error(a) <= error(candidate)) }
    }

    @Test("pot: zero-free levels ±α·2^k, each weight at its nearest level")
    func powerOfTwo() {
        var w = Self.weights(seed: 2)
        w[3] = 0
        let q = PowerOfTwoQuantizer(bits: 3)
        let encoded = q.quantize(w, rows: 6, columns: 50)
        let deq = q.dequantize(encoded)
        for i in 0..<w.count {
            let alpha = encoded.scales[i / 50]
            let levels = (0...3).flatMap { k in [alpha * Float(1 << k), -alpha * Float(1 << k)] }
            #expect(levels.contains(deq[i]))
            #expect(deq[i] != 0)
            let best = levels.map { abs($0 - w[i]) }.min()!
            #expect(abs(deq[i] - w[i]) <= best * (1 + 1e-6))
        }
        #expect(deq[3] > 0)
        #expect(q.bits(for: encoded) == StorageBits(payload: 900, metadata: 6 * 32))
        #expect(PowerOfTwoQuantizer(bits: 2).dequantize(PowerOfTwoQuantizer(bits: 2).quantize([0, 0], rows: 1, columns: 2)) == [0, 0])
    }

    @Test("lut: at most 2^B FP16 centroids per row; sparse outliers decode to c + fp16(w − c)")
    func lookupTable() {
        var w = Self.weights(seed: 3)
        w[10] = 9
        w[200] = -7
        let dense = LookupTableQuantizer(bits: 2)
        let encoded = dense.quantize(w, rows: 6, columns: 50, threads: 2)
        let deq = dense.dequantize(encoded)
        for row in 0..<6 {
            #expect(Set(deq[row * 50..<(row + 1) * 50]).count <= 4)
            for c in encoded.codebooks[row * 4..<(row + 1) * 4] {
                #expect(float16BitsToFloat(floatToFloat16Bits(c)) == c)
            }
        }
        #expect(dense.bits(for: encoded) == StorageBits(payload: 600, metadata: 6 * 4 * 16))
        let sparse = LookupTableQuantizer(bits: 2, sparsePercent: 1)  // 3 of 300
        let s = sparse.quantize(w, rows: 6, columns: 50)
        #expect(s.sparseIndices.count == 3)
        #expect(s.sparseIndices.contains(10) && s.sparseIndices.contains(200))
        let sd = sparse.dequantize(s)
        #expect(abs(sd[10] - 9) <= 9 * 1e-3)
        #expect(abs(sd[200] + 7) <= 7 * 1e-3)
        #expect(sparse.bits(for: s).metadata == 6 * 4 * 16 + 3 * 48 + 7 * 32)
        let error = { (q: [Float]) in zip(w, q).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } }
        #expect(error(sd) < error(deq))
    }
}
