import Kernels
import Testing

/// Swift's Float16 (hardware F16C conversions on x86_64) is the reference.
@Suite struct Float16Tests {
    private func sameFloat(_ a: Float, _ b: Float) -> Bool {
        a.isNaN ? (b.isNaN && a.bitPattern == b.bitPattern) : a.bitPattern == b.bitPattern
    }

    @Test func allHalvesToFloat() {
        var mismatches = 0
        for raw in 0...UInt16.max {
            let want = Float(Float16(bitPattern: raw))
            let got = float16BitsToFloat(raw)
            if !(got.bitPattern == want.bitPattern || (got.isNaN && want.isNaN)) { mismatches += 1 }
        }
        #expect(mismatches == 0)
        // NaN payloads keep the quiet bit and are still NaN.
        #expect(float16BitsToFloat(0x7E00).isNaN && float16BitsToFloat(0x7C01).isNaN)
        #expect(float16BitsToFloat(0x7C00) == .infinity && float16BitsToFloat(0xFC00) == -.infinity)
        #expect(float16BitsToFloat(0x0001) == 0x1p-24)
    }

    @Test func allHalvesRoundTrip() {
        for raw in 0...UInt16.max {
            let x = float16BitsToFloat(raw)
            let back = floatToFloat16Bits(x)
            if x.isNaN {
                #expect(back & 0x7C00 == 0x7C00 && back & 0x03FF != 0, "NaN \(raw)")
            } else {
                #expect(back == raw, "\(raw)")
            }
        }
    }

    /// Midpoints between consecutive halves (ties, must round to even) and points just either side,
    /// plus a stride through all float bit patterns, against Float16(Float) (round-to-nearest-even).
    @Test func floatToHalfRounding() {
        var inputs: [Float] = []
        for raw in UInt16(0)..<0x7C00 {
            let a = Double(float16BitsToFloat(raw))
            let b = Double(float16BitsToFloat(raw + 1))
            let mid = Float((a + b) / 2)  // exact: halves have 11 significant bits
            inputs += [mid, mid.nextUp, mid.nextDown, -mid, -mid.nextUp]
        }
        var bits: UInt32 = 0
        while bits < UInt32.max - 7919 {
            inputs.append(Float(bitPattern: bits))
            bits += 7919
        }
        inputs += [
            65504, 65519.996, 65520, 1e10, -1e10, .infinity, -.infinity, 0, -0.0, 0x1p-25, Float(0x1p-25).nextUp,
            0x1p-26,
        ]
        var mismatches = 0
        var firstBad: Float? = nil
        for x in inputs {
            let want = Float16(x).bitPattern
            let got = floatToFloat16Bits(x)
            if x.isNaN {
                if got & 0x7C00 != 0x7C00 || got & 0x03FF == 0 {
                    mismatches += 1
                    firstBad = firstBad ?? x
                }
            } else if got != want {
                mismatches += 1
                firstBad = firstBad ?? x
            }
        }
        #expect(mismatches == 0, "first mismatch at \(String(describing: firstBad))")
    }

    @Test func bulkConversions() {
        let halves: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001, 0x8000]
        var floats = [Float](repeating: 0, count: 5)
        convertFloat16ToFloat(halves, &floats, count: 5)
        #expect(floats == [1, -2, 65504, 0x1p-24, -0.0])
        var back = [UInt16](repeating: 0, count: 5)
        convertFloatToFloat16(floats, &back, count: 5)
        #expect(back == halves)
    }
}
