// Vectorised float32 transcendental functions on SIMD16<Float>, used by the elementwise, softmax
// and activation kernels.
//
// Accuracy (tested against Glibc double-precision functions over dense sweeps, see
// UnaryTests): each is within 2e-7 relative or 1e-7 absolute of the exact result (1-2 ulp), which
// matches ONNX Runtime's float implementations closely enough for 1e-4 logit parity. NaN inputs
// give NaN. Polynomials are evaluated in Horner form with FMA.

typealias Vec = SIMD16<Float>
typealias UVec = SIMD16<UInt32>

@inline(__always) func bitPattern(_ v: Vec) -> UVec { unsafeBitCast(v, to: UVec.self) }
@inline(__always) func fromBits(_ u: UVec) -> Vec { unsafeBitCast(u, to: Vec.self) }

/// `c + a * b` with one rounding.
@inline(__always) func fma(_ a: Vec, _ b: Vec, _ c: Float) -> Vec { Vec(repeating: c).addingProduct(a, b) }

/// Lane-wise max / min as compare + blend. The stdlib's `pointwiseMax` / `pointwiseMin` /
/// `clamped` are written per lane for NaN semantics; composed, they compile to ~200 scalar
/// instructions per vector (measured: Clip ran at 8 ns/element). vmax(a, b) = a < b ? b : a,
/// so a NaN in `a` is kept and a NaN in `b` is dropped (relu(NaN) = NaN).
@inline(__always) func vmax(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: a .< b) }
@inline(__always) func vmin(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .< a) }

/// |v| by clearing the sign bit.
@inline(__always) func vabs(_ v: Vec) -> Vec { fromBits(bitPattern(v) & UVec(repeating: 0x7FFF_FFFF)) }

/// Copies the sign bit of `sign` onto `magnitude` (assumed non-negative).
@inline(__always)
func withSign(_ magnitude: Vec, of sign: Vec) -> Vec {
    fromBits(bitPattern(magnitude) | (bitPattern(sign) & UVec(repeating: 0x8000_0000)))
}

/// 2^n for integral-valued `n` in [-152, 128], returned as two factors whose product is exact even
/// when 2^n is subnormal (each half is a normal float).
@inline(__always)
func exp2Factors(_ n: Vec) -> (Vec, Vec) {
    // x + 1.5 * 2^23 puts the integer x in the low mantissa bits (for |x| < 2^22).
    let magic = Vec(repeating: 12_582_912)
    let half = (n * 0.5).rounded(.down)
    let rest = n - half
    let h = bitPattern(half + magic) &- bitPattern(magic)
    let r = bitPattern(rest + magic) &- bitPattern(magic)
    return (fromBits((h &+ 127) &<< 23), fromBits((r &+ 127) &<< 23))
}

/// e^x: +inf above ~88.72, subnormal results down to ~-103.3, 0 below.
/// Cephes expf: x = n ln2 + r with |r| <= ln2/2 (ln2 split so n * ln2_hi is exact), then
/// e^r = 1 + r + r^2 p(r) with a degree-5 p.
@inline(__always)
func vexp(_ x: Vec) -> Vec {
    let xc = vmin(vmax(x, Vec(repeating: -104)), Vec(repeating: 89))
    let n = (xc * 1.442_695_04).rounded(.toNearestOrEven)
    var r = xc.addingProduct(n, Vec(repeating: -0.693_359_375))
    r = r.addingProduct(n, Vec(repeating: 2.121_944_4e-4))
    var p = fma(Vec(repeating: 1.987_569_15e-4), r, 1.398_199_95e-3)
    p = fma(p, r, 8.333_451_9e-3)
    p = fma(p, r, 4.166_579_59e-2)
    p = fma(p, r, 1.666_666_55e-1)
    p = fma(p, r, 5.000_000_12e-1)
    let y = r.addingProduct(p, r * r) + 1
    let (s1, s2) = exp2Factors(n)
    return (y * s1 * s2).replacing(with: x, where: x .!= x)
}

/// Natural log: -inf at 0, NaN below 0, +inf at +inf; subnormal inputs handled.
/// Cephes logf: x = 2^e m with m in [sqrt(1/2), sqrt(2)), log(m) = f - f^2/2 + f^3 p(f), f = m - 1.
@inline(__always)
func vlog(_ x: Vec) -> Vec {
    // Scale subnormals into the normal range first.
    let tiny = x .< Float.leastNormalMagnitude
    let xs = x.replacing(with: x * 8_388_608, where: tiny)  // * 2^23
    let u = bitPattern(xs)
    // Exponent field as a float: OR it into the mantissa of 2^23 and subtract 2^23 (exact). The
    // stdlib Int32 -> Float vector init is not vectorised.
    var e = fromBits(((u &>> 23) & 0xFF) | 0x4B00_0000) - (8_388_608 + 126)
    e = e.replacing(with: e - 23, where: tiny)
    var m = fromBits((u & 0x007F_FFFF) | 0x3F00_0000)  // [0.5, 1)
    let small = m .< 0.707_106_781_186_547_524
    e = e.replacing(with: e - 1, where: small)
    m = m.replacing(with: m + m, where: small) - 1
    let z = m * m
    var p = fma(Vec(repeating: 7.037_683_629_2e-2), m, -1.151_461_031_0e-1)
    p = fma(p, m, 1.167_699_874_0e-1)
    p = fma(p, m, -1.242_014_084_6e-1)
    p = fma(p, m, 1.424_932_278_7e-1)
    p = fma(p, m, -1.666_805_766_5e-1)
    p = fma(p, m, 2.000_071_476_5e-1)
    p = fma(p, m, -2.499_999_399_3e-1)
    p = fma(p, m, 3.333_333_117_4e-1)
    var y = p * m * z
    y = y.addingProduct(e, Vec(repeating: -2.121_944_40e-4))
    y = y.addingProduct(z, Vec(repeating: -0.5))
    var result = (m + y).addingProduct(e, Vec(repeating: 0.693_359_375))
    result = result.replacing(with: -.infinity, where: x .== 0)
    result = result.replacing(with: .infinity, where: x .== .infinity)
    result = result.replacing(with: .nan, where: x .< 0)
    return result.replacing(with: x, where: x .!= x)
}

/// log(1 + y) for y >= 0, accurate for small y: log(u) * y / (u - 1) with u = fl(1 + y) cancels
/// the rounding of 1 + y (Goldberg's trick).
@inline(__always)
func vlog1pNonNegative(_ y: Vec) -> Vec {
    let u = y + 1
    let d = u - 1
    let r = vlog(u) * y / d
    return r.replacing(with: y, where: d .== 0).replacing(with: y, where: y .== .infinity)
}

/// 1 / (1 + e^-x). Saturates to exactly 0 / 1 far out.
@inline(__always)
func vsigmoid(_ x: Vec) -> Vec {
    let r = 1 / (vexp(-x) + 1)
    return r.replacing(with: x, where: x .!= x)
}

/// tanh: odd polynomial x + x^3 p(x^2) for |x| < 0.625 (Cephes tanhf), else
/// sign(x) (1 - 2 / (e^{2|x|} + 1)), which is exactly +-1 beyond ~9.
@inline(__always)
func vtanh(_ x: Vec) -> Vec {
    let a = vabs(x)
    let z = x * x
    var p = fma(Vec(repeating: -5.704_988_727_45e-3), z, 2.063_908_879_54e-2)
    p = fma(p, z, -5.373_971_555_31e-2)
    p = fma(p, z, 1.333_144_220_36e-1)
    p = fma(p, z, -3.333_328_194_22e-1)
    let small = x.addingProduct(p * z, x)
    let e = vexp(a + a)
    let large = withSign(1 - 2 / (e + 1), of: x)
    return large.replacing(with: small, where: a .< 0.625).replacing(with: x, where: x .!= x)
}

/// erf(a) for a >= 0 and erfc(a) for a in [1, 4] (a is clamped to 4, beyond which erf rounds to 1).
/// Small branch (a < 1): a q(a^2), degree-6 q fitted to erf(a)/a on [0, 1] (relative-weighted
/// Chebyshev least squares, error ~1e-9 before rounding). Tail: erfc(a) = e^{-a^2} R(a) with R
/// fitted as a degree-10 polynomial in t = (2/a - 1.25) / 0.75 on a in [1, 4]; e^{-a^2} uses the
/// exact square (hi + lo via FMA) so its relative error stays ~1 ulp.
@inline(__always)
func verfParts(_ a: Vec) -> (erf: Vec, erfcTail: Vec, isSmall: SIMDMask<SIMD16<Int32>>) {
    let z = a * a
    var q = fma(Vec(repeating: 7.898_209_878_476_337e-05), z, -0.000_802_435_388_322_919_6)
    q = fma(q, z, 0.005_190_053_489_059_21)
    q = fma(q, z, -0.026_854_809_373_617_172)
    q = fma(q, z, 0.112_836_122_512_817_38)
    q = fma(q, z, -0.376_126_289_367_675_8)
    q = fma(q, z, 1.128_379_225_730_896)
    let small = a * q

    let t0 = vmin(vmax(a, Vec(repeating: 1)), Vec(repeating: 4))
    let u = 1 / t0
    let t = fma(u, Vec(repeating: 2 / 0.75), -1.25 / 0.75)
    var r = fma(Vec(repeating: -1.997_960_225_708_084e-06), t, 3.811_999_704_339_541_5e-06)
    r = fma(r, t, 2.216_525_899_711_996_3e-06)
    r = fma(r, t, -2.806_786_142_173_223_2e-05)
    r = fma(r, t, 0.000_119_837_321_108_207_1)
    r = fma(r, t, -0.000_348_123_081_494_122_74)
    r = fma(r, t, 0.000_461_498_304_503_038_5)
    r = fma(r, t, 0.002_308_023_395_016_789_4)
    r = fma(r, t, -0.024_243_030_697_107_315)
    r = fma(r, t, 0.143_356_412_649_154_66)
    r = fma(r, t, 0.305_952_996_015_548_7)
    let hi = t0 * t0
    let lo = (-hi).addingProduct(t0, t0)  // exact: t0^2 = hi + lo
    let e = vexp(-hi) * (1 - lo)
    let erfc = e * r
    let isSmall = a .< 1
    return (small.replacing(with: 1 - erfc, where: .!isSmall), erfc, isSmall)
}

/// erf(x), odd; exactly +-1 for |x| >= ~3.92.
@inline(__always)
func verf(_ x: Vec) -> Vec {
    let parts = verfParts(vabs(x))
    return withSign(parts.erf, of: x).replacing(with: x, where: x .!= x)
}

/// GELU, exact form 0.5 x (1 + erf(x / sqrt 2)). For x < 0, 1 + erf(z) = erfc(|z|) is taken from
/// the erfc tail directly rather than by cancellation, so small negative outputs keep their
/// relative accuracy; below z = -4 (x < -5.66, |result| < 5e-8) the result is 0.
@inline(__always)
func vgelu(_ x: Vec) -> Vec {
    let z = x * 0.707_106_781_186_547_524
    let a = vabs(z)
    let parts = verfParts(a)
    let onePlus = 1 + parts.erf  // x >= 0
    var oneMinus = 1 - parts.erf  // x < 0, |z| < 1 (no significant cancellation: erf(1) = 0.84)
    oneMinus = oneMinus.replacing(with: parts.erfcTail, where: .!parts.isSmall)
    oneMinus = oneMinus.replacing(with: 0, where: a .> 4)
    let factor = onePlus.replacing(with: oneMinus, where: x .< 0)
    return (0.5 * x * factor).replacing(with: x, where: x .!= x)
}

/// GELU, tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated as
/// x * sigmoid(2 y) (the same function, without the cancellation of 1 + tanh for x < 0).
@inline(__always)
func vgeluTanh(_ x: Vec) -> Vec {
    let y = 0.797_884_560_802_865_4 * x.addingProduct(0.044_715 * x * x, x)
    return (x * vsigmoid(y + y)).replacing(with: x, where: x .!= x)
}

/// softplus log(1 + e^x) = max(x, 0) + log1p(e^-|x|): never overflows.
@inline(__always)
func vsoftplus(_ x: Vec) -> Vec {
    let r = vmax(x, Vec()) + vlog1pNonNegative(vexp(-vabs(x)))
    return r.replacing(with: x, where: x .!= x)
}
