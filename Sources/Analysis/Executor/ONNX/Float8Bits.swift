/// The bit patterns of ONNX's two OCP FP8 types, `float8e4m3fn` (type 17) and `float8e5m2` (type 19).
///
/// E4M3FN: sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, S.1111.111 is NaN, max 448.
/// E5M2: sign, 5 exponent bits (bias 15), 2 mantissa bits; exponent 11111 is Inf (mantissa 0) or NaN.
/// Exponent 0 encodes subnormals `m/2^M · 2^(1 − bias)`.
package enum Float8Bits {
    /// The value of byte `bits` in `type` (`.float8e4m3fn` or `.float8e5m2`).
    package static func decode(_ bits: UInt8, _ type: DataType) -> Float {
        let e4m3 = type == .float8e4m3fn
        let mantissaBits = e4m3 ? 3 : 2
        let exponentMask: UInt8 = e4m3 ? 0xF : 0x1F
        let bias = e4m3 ? 7 : 15
        let sign: Float = bits & 0x80 != 0 ? -1 : 1
        let e = Int((bits >> UInt8(mantissaBits)) & exponentMask)
        let m = Int(bits & UInt8((1 << mantissaBits) - 1))
        if e4m3, e == 15, m == 7 { return .nan }
        if !e4m3, e == 31 { return m == 0 ? sign * .infinity : .nan }
        let fraction = Float(m) / Float(1 << mantissaBits)
        if e == 0 { return sign * fraction * Float(sign: .plus, exponent: 1 - bias, significand: 1) }
        return sign * (1 + fraction) * Float(sign: .plus, exponent: e - bias, significand: 1)
    }

    /// The 256 decoded values of `type`, indexed by bit pattern.
    package static func table(_ type: DataType) -> [Float] { (0...255).map { decode(UInt8($0), type) } }

    /// Byte patterns of values that lie exactly on the `type` grid (what `FloatFormat.round` returns);
    /// nil for a value that is not representable (the caller bakes such a tensor instead). −0 keeps its
    /// sign bit; NaN maps to the type's NaN code.
    package static func encode(_ values: [Float], _ type: DataType) -> [UInt8]? {
        var codes: [UInt32: UInt8] = [:]
        for (bits, value) in table(type).enumerated() where !value.isNaN { codes[value.bitPattern] = UInt8(bits) }
        let nan: UInt8 = 0x7F  // S.1111.111 (E4M3FN) and S.11111.11 (E5M2) are both NaN
        var out = [UInt8](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            if v.isNaN {
                out[i] = nan
            } else if let code = codes[v.bitPattern] {
                out[i] = code
            } else {
                return nil
            }
        }
        return out
    }
}
