import Analysis
import Executor
import Kernels
import Testing

@Suite("quantizer spec")
struct QuantizerSpecTests {
    @Test("canonical strings round-trip", arguments: [
        "int4", "int8:asym", "int2:hawq", "int16:tensor", "int4:group=64", "int3:clip=mse", "int4:asym:clip=p99.9",
        "fp8:e4m3", "fp8:e5m2", "fp6:e3m2", "fp6:e2m3", "fp4:e2m1", "fp4:e2m1:block=32", "fp8:e4m3:clip=mse",
        "pow4", "pow3:a=0.5", "pot3", "lut3", "lut4:sparse=0.45", "split3:int2", "split3:fp4:e2m1:block=32",
    ])
    func roundTrip(text: String) throws {
        let spec = try QuantizerSpec(parsing: text)
        #expect(spec.description == text)
        #expect(try QuantizerSpec(parsing: spec.description) == spec)
    }

    @Test("defaults and bit-widths")
    func defaults() throws {
        #expect(try QuantizerSpec(parsing: "INT4") == .int(4))
        #expect(try QuantizerSpec(parsing: "fp4").description == "fp4:e2m1")
        #expect(try QuantizerSpec(parsing: "fp8:e5m2").bits == 8)
        #expect(try QuantizerSpec(parsing: "split3:int3").bits == 3)
        #expect(QuantizerSpec.int(7).bits == 7)
    }

    @Test("bad specs give one line listing what is valid", arguments: [
        "int1", "int17", "fp4:e9m9", "int4:group=0", "bogus", "", "int4:asym:hawq", "int4:tensor:group=8",
        "split3", "split3:split3:int4", "pow4:a=2", "lut3:sparse=100", "int4:clip=q5", "fp5", "int4:wat",
    ])
    func badSpecs(text: String) {
        do {
            _ = try QuantizerSpec(parsing: text)
            Issue.record("'\(text)' parsed")
        } catch let error as QScopeError {
            #expect(!error.description.contains("\n"))
            #expect(error.description.contains("valid: intB"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("per output channel follows the output axis (Gemm transB=0 uses axis 1)")
    func outputAxis() throws {
        // [in=3, out=2]: column j is output channel j.
        let w = Tensor(shape: [3, 2], values: [1, 10, -2, 20, 0.5, -40])
        let q = try QuantizerSpec.int(4).quantize(weight: w, outputAxis: 1)
        let s0 = Float(2) / 7, s1 = Float(40) / 7
        let original: [Float] = [1, 10, -2, 20, 0.5, -40]
        var want = [Float](repeating: 0, count: 6)
        for i in 0..<6 {
            let s = i % 2 == 0 ? s0 : s1
            want[i] = (original[i] / s).rounded(.toNearestOrEven) * s
        }
        #expect(q.values == want)
        #expect(q.payloadBits == 6 * 4)
        #expect(q.totalBits == 6 * 4 + 2 * 32)
        #expect(q.sqnrDB.isFinite && q.sqnrDB > 10)
        let exact = try QuantizerSpec.int(8).quantize(weight: Tensor(shape: [2, 1], values: [127, 0]), outputAxis: 1)
        #expect(exact.sqnrDB == .infinity)
        let zeros = try QuantizerSpec.int(4).quantize(weight: Tensor(shape: [2, 2], values: [0, 0, 0, 0]), outputAxis: 0)
        #expect(zeros.values == [0, 0, 0, 0])
    }
}
