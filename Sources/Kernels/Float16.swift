// IEEE 754 binary16 <-> binary32 conversion on raw bit patterns (ONNX float16 initializers are
// stored as UInt16 bits). Written with integer operations so the result is exact and independent
// of the platform's Float16 support; the tests use Swift's Float16 as the reference.

/// Converts half-precision bits to Float. Exact (every half is a float): subnormal halves become
/// normal floats, infinities stay infinite, NaNs stay NaN with their payload shifted into the top
/// of the float mantissa (so the quiet bit is preserved).
@inline(__always)
public func float16BitsToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        // Zero or subnormal: mantissa * 2^-24, exact in float.
        let magnitude = Float(mantissa) * 0x1p-24
        return Float(bitPattern: sign | magnitude.bitPattern)
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// Converts a Float to half-precision bits with round-to-nearest-even. Values whose magnitude
/// rounds above 65504 become infinity, tiny values round to subnormal halves or signed zero, NaN
/// stays NaN (quiet, top payload bits kept).
@inline(__always)
public func floatToFloat16Bits(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xFF)
    let mantissa = bits & 0x007F_FFFF
    if exponent == 0xFF {
        if mantissa == 0 { return sign | 0x7C00 }
        return sign | 0x7E00 | UInt16(truncatingIfNeeded: mantissa >> 13)
    }
    let e = exponent - 127 + 15  // biased half exponent
    if e >= 0x1F { return sign | 0x7C00 }
    if e <= 0 {
        // Subnormal half (or zero): shift the full significand (implicit 1 included) right so the
        // result counts units of 2^-24, rounding to nearest even on the dropped bits.
        if e < -10 { return sign }  // below half of the smallest subnormal: rounds to zero
        let significand = mantissa | 0x0080_0000
        let shift = UInt32(14 - e)  // 14..24
        let kept = significand >> shift
        let dropped = significand & ((1 << shift) - 1)
        let halfway = UInt32(1) << (shift - 1)
        var result = kept
        if dropped > halfway || (dropped == halfway && (kept & 1) == 1) { result += 1 }
        return sign | UInt16(result)
    }
    // Normal: keep 10 mantissa bits, round on the 13 dropped; a carry out of the mantissa bumps the
    // exponent (and turns 65520 and above into infinity), which the addition does naturally.
    var half = UInt32(e << 10) | (mantissa >> 13)
    let dropped = mantissa & 0x1FFF
    if dropped > 0x1000 || (dropped == 0x1000 && (half & 1) == 1) { half += 1 }
    return sign | UInt16(half)
}

/// Converts `count` half-precision bit patterns to floats (`dst[i] = float16BitsToFloat(src[i])`).
public func convertFloat16ToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { dst[i] = float16BitsToFloat(src[i]) }
}

/// Converts `count` floats to half-precision bit patterns with round-to-nearest-even.
public func convertFloatToFloat16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
    for i in 0..<count { dst[i] = floatToFloat16Bits(src[i]) }
}
