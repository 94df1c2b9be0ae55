// Shared helpers for the kernel tests: a seeded generator and error measures.

import Kernels

/// The kernels' seeded generator, with the uniform float draws the kernel tests use: test data is
/// reproducible from its seed on every platform.
typealias TestRNG = SplitMix64

extension SplitMix64 {
    /// Uniform in [lo, hi), from the top 24 bits.
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
