import Kernels
import Testing

@Suite("integer quantizer")
struct IntegerQuantizerTests {
    @Test("sym-absmax: scale = max|w|/(2^(B-1)-1), codes within ±(2^(B-1)-1), dequant q·s", arguments: [2, 3, 4, 8, 16])
    func symmetricGrid(bits: Int) {
        var rng = TestRNG(seed: UInt64(bits))
        let rows = 5, columns = 37
        let w = rng.floats(rows * columns, -2, 2)
        let q = IntegerQuantizer(bits: bits)
        let encoded = q.quantize(w, rows: rows, columns: columns)
        let qmax = Float((1 << (bits - 1)) - 1)
        for r in 0..<rows {
            let row = w[r * columns..<(r + 1) * columns]
            let scale = row.map { abs($0) }.max()! / qmax
            #expect(encoded.scales[r] == scale)
            for i in r * columns..<(r + 1) * columns {
                let want = Int32((w[i] / scale).rounded(.toNearestOrEven))
                #expect(encoded.codes[i] == want)
                #expect(abs(encoded.codes[i]) <= Int32(qmax))
            }
        }
        let deq = q.dequantize(encoded)
        for i in 0..<w.count { #expect(deq[i] == Float(encoded.codes[i]) * encoded.scales[i / columns]) }
        #expect(q.fakeQuantize(w, rows: rows, columns: columns, threads: 2) == deq)
        #expect(q.bits(for: encoded) == StorageBits(payload: rows * columns * bits, metadata: rows * 32))
    }

    @Test("round half to even on exact ties")
    func ties() {
        // max|w| = 7 at 4 bits gives scale 1, so w = ±0.5, ±1.5, ±2.5 are exact ties.
        let w: [Float] = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 7, 3.5]
        let encoded = IntegerQuantizer(bits: 4).quantize(w, rows: 1, columns: w.count)
        #expect(encoded.codes == [0, 2, 2, 0, -2, -2, 7, 4])
    }

    @Test("an all-zero channel gets scale 0 and exact zeros, not NaN")
    func zeroChannel() {
        let w: [Float] = [0, 0, 0, 1, -2, 3]
        for mapping in [IntegerQuantizer.Mapping.symmetric, .affine] {
            let q = IntegerQuantizer(bits: 4, mapping: mapping)
            let deq = q.dequantize(q.quantize(w, rows: 2, columns: 3))
            #expect(Array(deq[0..<3]) == [0, 0, 0])
            #expect(deq.allSatisfy { !$0.isNaN })
        }
    }

    @Test("asym: range widened to contain 0, integer zero point, 0 exact")
    func affine() {
        let w: [Float] = [0.1, 0.2, 0.9, 1.7, 0, 0.35]
        let q = IntegerQuantizer(bits: 3, mapping: .affine)
        let encoded = q.quantize(w, rows: 1, columns: w.count)
        let scale = Float(1.7) / 7
        #expect(encoded.scales == [scale])
        #expect(encoded.zeroPoints == [0])
        #expect(encoded.codes == w.map { Int32(min(max(($0 / scale).rounded(.toNearestOrEven), 0), 7)) })
        let deq = q.dequantize(encoded)
        #expect(deq[4] == 0)
        let negative: [Float] = [-1, -0.5, 0.25, 2]
        let e2 = q.quantize(negative, rows: 1, columns: 4)
        #expect(e2.zeroPoints == [Int32((Float(1) / (Float(3) / 7)).rounded(.toNearestOrEven))])
        #expect(q.bits(for: e2).metadata == 32 + 3)
    }

    @Test("hawq clamp allows -2^(B-1); groups have their own scales")
    func hawqAndGroups() {
        #expect(IntegerQuantizer(bits: 4, mapping: .hawq).codeRange == -8...7)
        let w: [Float] = [1, 2, 3, 4, 10, 20, 30]
        let q = IntegerQuantizer(bits: 8, groupSize: 4)
        let e = q.quantize(w, rows: 1, columns: 7)
        #expect(e.groupsPerRow == 2)
        #expect(e.scales == [Float(4) / 127, Float(30) / 127])
        #expect(q.bits(for: e).metadata == 64)
    }

    @Test("clip=mse never does worse than the full range; percentile clips to the order statistic")
    func clipping() {
        var rng = TestRNG(seed: 9)
        // Peaked, long-tailed values (u^5): at 3 bits a clipped range serves the many small values
        // better than the full range serves the few large ones.
        let w = rng.floats(1024, -1, 1).map { $0 * $0 * $0 * $0 * $0 }
        func error(_ q: IntegerQuantizer) -> Double {
            zip(w, q.fakeQuantize(w, rows: 1, columns: w.count)).reduce(0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) }
        }
        let full = error(IntegerQuantizer(bits: 3))
        let mse = error(IntegerQuantizer(bits: 3, clipping: .mse))
        #expect(mse < full)
        let p = IntegerQuantizer(bits: 3, clipping: .percentile(50)).quantize(w, rows: 1, columns: w.count)
        #expect(p.scales[0] == percentile(w.map { abs($0) }, 50) / 3)
    }
}
