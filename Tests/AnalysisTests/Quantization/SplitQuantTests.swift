import Analysis
import Executor
import Kernels
import Testing

@Suite("SplitQuant")
struct SplitQuantTests {
    /// A Gemm weight [out 16, in 32] with a few outliers.
    static func weight() -> Tensor {
        var state: UInt64 = 7
        var values = (0..<512).map { _ -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) - 0.5) * 0.1
        }
        for i in stride(from: 5, to: 512, by: 97) { values[i] *= 12 }
        return Tensor(shape: [16, 32], values: values)
    }

    @Test("honest size: compact = n·b + ceil(n·log2 3) + 3 metadata sets; dense = 3·n·b + 3 metadata sets")
    func size() throws {
        let w = Self.weight()
        let split = try QuantizerSpec(parsing: "split3:int4").quantize(weight: w, outputAxis: 0)
        let plain = try QuantizerSpec(parsing: "int4").quantize(weight: w, outputAxis: 0)
        let metadata = plain.totalBits - plain.payloadBits
        let ids = Int((512 * 1.584962500721156).rounded(.up))
        #expect(split.payloadBits == 512 * 4 + ids)
        #expect(split.totalBits == 512 * 4 + ids + 3 * metadata)
        #expect(split.denseTotalBits == 3 * 512 * 4 + 3 * metadata)
        #expect(plain.denseTotalBits == nil)
    }

    @Test("the parts sum back: split3:int16 is near-lossless, and splitting beats one grid on outliers")
    func accuracy() throws {
        let w = Self.weight()
        let lossless = try QuantizerSpec(parsing: "split3:int16").quantize(weight: w, outputAxis: 0)
        #expect(lossless.sqnrDB > 80)
        for bits in [2, 3, 4] {
            let split = try QuantizerSpec(parsing: "split3:int\(bits):asym").quantize(weight: w, outputAxis: 0)
            let plain = try QuantizerSpec(parsing: "int\(bits):asym").quantize(weight: w, outputAxis: 0)
            #expect(split.sqnrDB > plain.sqnrDB + 3, "B=\(bits): split \(split.sqnrDB) dB vs \(plain.sqnrDB) dB")
        }
    }

    @Test("Conv weights are split per output kernel, Gemm weights over the whole matrix")
    func granularity() throws {
        // Two output channels on very different scales: one global split would put all of channel 1
        // in one part; per-kernel splits give each channel its own three parts.
        let values: [Float] = (0..<18).map { i in i < 9 ? Float(i) * 0.01 : 5 + Float(i) * 0.5 }
        let conv = try QuantizerSpec(parsing: "split3:int2:asym").quantize(
            weight: Tensor(shape: [2, 1, 3, 3], values: values), outputAxis: 0)
        let gemm = try QuantizerSpec(parsing: "split3:int2:asym").quantize(
            weight: Tensor(shape: [2, 9], values: values), outputAxis: 0)
        #expect(conv.values != gemm.values)
        #expect(conv.sqnrDB > gemm.sqnrDB)
    }
}
