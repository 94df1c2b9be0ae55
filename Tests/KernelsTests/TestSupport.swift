// Shared helpers for the kernel tests: a seeded generator and error measures.

/// SplitMix64: deterministic test data independent of the platform's random source.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    mutating func float(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func floats(_ count: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<count).map { _ in float(lo, hi) }
    }
}

/// Largest |got - want| / (atol + rtol * |want|) over the arrays; <= 1 means within tolerance.
func toleranceRatio(_ got: [Float], _ want: [Double], rtol: Double, atol: Double) -> Double {
    precondition(got.count == want.count)
    var worst = 0.0
    for i in 0..<got.count {
        let g = Double(got[i])
        let w = want[i]
        if g.isNaN != w.isNaN { return .infinity }
        if g.isNaN { continue }
        if g == w { continue }
        let r = abs(g - w) / (atol + rtol * abs(w))
        worst = max(worst, r)
    }
    return worst
}
