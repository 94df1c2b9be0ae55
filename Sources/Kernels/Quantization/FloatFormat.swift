/// A small floating-point element format (sign, E exponent bits, M mantissa bits) with the OCP
/// encodings (FP8 E4M3/E5M2, MX FP6 and FP4).
///
/// A normal code's value is `(1 + m/2^M)·2^(e − bias)`, a subnormal's (e = 0) `(m/2^M)·2^(1 − bias)`.
/// Which codes are reserved follows the OCP specifications: E4M3 is `e4m3fn` (only S.1111.111 is NaN,
/// no infinities, max 448), E5M2 is IEEE-like (exponent 11111 is Inf/NaN, max 57344), and the MX
/// element formats FP6 E3M2/E2M3 and FP4 E2M1 reserve nothing (no Inf, no NaN).
public struct FloatFormat: Sendable, Hashable, CustomStringConvertible {
    public var exponentBits: Int
    public var mantissaBits: Int
    public var bias: Int
    /// The largest finite magnitude.
    public var maxValue: Float
    /// Whether the format has a NaN encoding (E4M3, E5M2); NaN inputs of the others have none.
    public var hasNaN: Bool

    public static let e4m3 = FloatFormat(exponentBits: 4, mantissaBits: 3, bias: 7, maxValue: 448, hasNaN: true)
    public static let e5m2 = FloatFormat(exponentBits: 5, mantissaBits: 2, bias: 15, maxValue: 57344, hasNaN: true)
    public static let e3m2 = FloatFormat(exponentBits: 3, mantissaBits: 2, bias: 3, maxValue: 28, hasNaN: false)
    public static let e2m3 = FloatFormat(exponentBits: 2, mantissaBits: 3, bias: 1, maxValue: 7.5, hasNaN: false)
    public static let e2m1 = FloatFormat(exponentBits: 2, mantissaBits: 1, bias: 1, maxValue: 6, hasNaN: false)

    /// Every format the quantizers accept, by name.
    public static let all: [FloatFormat] = [.e4m3, .e5m2, .e3m2, .e2m3, .e2m1]

    /// Total bits per element: sign + exponent + mantissa.
    public var bits: Int { 1 + exponentBits + mantissaBits }

    /// `"e4m3"`-style name.
    public var description: String { "e\(exponentBits)m\(mantissaBits)" }

    /// The unbiased exponent of the smallest normal binade, `1 − bias`.
    public var minNormalExponent: Int { 1 - bias }

    /// The unbiased exponent of `maxValue`'s binade (E2M1: 2, since 6 = 1.5·2²): the `emax_elem` of
    /// the OCP MX shared-scale rule.
    public var maxExponent: Int { maxValue.exponent }

    /// `x` rounded to the nearest value of the format, ties to even mantissa, magnitudes beyond
    /// `maxValue` saturated to ±`maxValue` (a quantizer clips; it does not overflow to NaN/Inf).
    /// ±0 keep their sign; NaN stays NaN (also for formats without a NaN code, whose quantizers
    /// never see one after scaling because the scale ignores NaN).
    ///
    /// Exact: the step `2^(e − M)` is a power of two, so `|x| / step` is exact in Float and
    /// `rounded(.toNearestOrEven)` is the format's round-to-nearest-even. Rounding up at the top of a
    /// binade lands on the next binade's first value, which is on the grid.
    @inlinable
    public func round(_ x: Float) -> Float {
        let magnitude = abs(x)
        guard magnitude <= maxValue else { return x.isNaN ? x : (x < 0 ? -maxValue : maxValue) }
        // The binade's exponent from the bit pattern; zero and Float subnormals read −127 and, like
        // the format's own subnormals, use the smallest normal binade's step (log2 0 = −inf is never
        // taken, so zero needs no special case). Both powers of two below are normal Floats for every
        // format here (2^(e−M) ≥ 2^−16, 2^(M−e) ≤ 2^16).
        let e = Swift.max(Int(magnitude.bitPattern >> 23) - 127, minNormalExponent)
        let up = Float(bitPattern: UInt32(127 + mantissaBits - e) << 23)
        let step = Float(bitPattern: UInt32(127 - mantissaBits + e) << 23)
        let rounded = Swift.min((magnitude * up).rounded(.toNearestOrEven) * step, maxValue)
        return Float(bitPattern: rounded.bitPattern | (x.bitPattern & 0x8000_0000))
    }

    /// All non-negative finite values of the format in increasing order (0 first).
    public var nonNegativeValues: [Float] {
        var values: [Float] = []
        let mantissas = 1 << mantissaBits
        for e in 0..<(1 << exponentBits) {
            for m in 0..<mantissas {
                let value: Float = e == 0
                    ? Float(m) / Float(mantissas) * Float(sign: .plus, exponent: minNormalExponent, significand: 1)
                    : (1 + Float(m) / Float(mantissas)) * Float(sign: .plus, exponent: e - bias, significand: 1)
                if value <= maxValue { values.append(value) }
            }
        }
        return values
    }
}
