import Kernels

/// The integer matrix product `C = A·B` of the quantized ops (QLinearConv, QLinearMatMul, ConvInteger,
/// MatMulInteger), computed exactly with the float32 GEMM.
///
/// A and B hold centred codes (`x − zero_point`: integers stored as floats). Every product of two
/// such values is an exact integer, and float32 adds integers exactly while every partial sum stays
/// within 2^24. With `|a| ≤ α` and `|b| ≤ β`, every partial sum of `K` terms is at most `K·α·β`, so
/// the reduction is split into chunks of `K ≤ 2^24 / (α·β)` (258 for the widest uint8 ranges, 1040
/// for int8 weights against uint8 activations centred at 128): each chunk's GEMM is exact whatever
/// order its kernel sums in, and the chunks are added in Double (exact up to 2^53). ONNX accumulates
/// in int32; sums beyond ±2^31 (which ONNX Runtime wraps) are not reproduced.
///
/// When A or B holds non-integers (a weight a plan requantized to another grid, see
/// `QuantizedWeightForm`), the same chunked product is an ordinary float32 product.
enum ExactIntegerProduct {
    /// Largest reduction length whose float32 partial sums are exact for operands bounded by
    /// `aBound` and `bBound` in magnitude.
    static func exactChunk(aBound: Float, bBound: Float) -> Int {
        let product = Double(max(aBound, 1)) * Double(max(bBound, 1))
        return max(1, Int(Double(1 << 24) / product))
    }

    /// Largest magnitude among `count` values.
    static func bound(_ values: UnsafePointer<Float>, count: Int) -> Float {
        var largest: Float = 0
        for i in 0..<count { largest = max(largest, abs(values[i])) }
        return largest
    }

    /// `accumulator[i·n + j] = Σ_p a[i·lda + p]·b[p·ldb + j]` (A `m×k` row-major, B `k×n` row-major)
    /// in Double, exact for integer operands within `aBound`/`bBound`. `scratch` holds `m·n` floats.
    static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, aBound: Float,
                         b: UnsafePointer<Float>, ldb: Int, bBound: Float,
                         accumulator: UnsafeMutablePointer<Double>, scratch: UnsafeMutablePointer<Float>, threads: Int) {
        accumulator.update(repeating: 0, count: m * n)
        guard m > 0, n > 0, k > 0 else { return }
        let chunk = exactChunk(aBound: aBound, bBound: bBound)
        var start = 0
        while start < k {
            let length = min(chunk, k - start)
            sgemm(m: m, n: n, k: length, a: a + start, lda: lda, transA: false, b: b + start * ldb, ldb: ldb, transB: false,
                  c: scratch, ldc: n, threads: threads)
            for i in 0..<(m * n) { accumulator[i] += Double(scratch[i]) }
            start += length
        }
    }
}

/// How a quantized op's weight input arrives.
///
/// ONNX gives integer codes (`int8`/`uint8`). `Model` replaces a constant code tensor with its
/// dequantized float values, `(w − w_zp)·w_scale` (unit scale for ConvInteger and MatMulInteger,
/// whose scale a later Mul applies), so that the layer's weight is a float tensor a plan can
/// requantize and substitute like any other. The op then recovers the codes: when every value
/// lies exactly on the stored grid (`Float(round(W/s))·s == W`, which holds for the values
/// DequantizeLinear produced) the product runs on the codes and is exact; a weight a plan moved
/// off that grid runs as the real-valued product of the dequantized input with the float weight
/// and is requantized from there.
enum QuantizedWeightForm: Sendable {
    /// Integer codes; their zero point is input `zeroPointInput` (absent: 0).
    case codes
    /// Dequantized float values.
    case dequantized

    init(_ type: DataType) { self = type.isFloat ? .dequantized : .codes }
}

/// Writes the centred weight into `centred` (same layout): `W − zp` in codes form; in dequantized form
/// the codes `round(W / scale)` when every value lies on the stored grid, else the float values
/// themselves. The weight is laid out `[outer, channels, inner]`; zero points and scales hold one
/// value (per tensor) or one per channel (`zeroPointCount`, `scaleCount`); absent: 0 and 1. Returns
/// whether the result holds codes on the stored grid (always in codes form).
func centreWeight(_ weight: UnsafePointer<Float>, form: QuantizedWeightForm, outer: Int, channels: Int, inner: Int,
                  zeroPoints: UnsafePointer<Float>?, zeroPointCount: Int, scales: UnsafePointer<Float>?, scaleCount: Int,
                  into centred: UnsafeMutablePointer<Float>) -> Bool {
    let count = outer * channels * inner
    switch form {
    case .codes:
        for o in 0..<outer {
            for c in 0..<channels {
                let zero = zeroPoints?[zeroPointCount == 1 ? 0 : c] ?? 0
                let base = (o * channels + c) * inner
                for i in base..<(base + inner) { centred[i] = weight[i] - zero }
            }
        }
        return true
    case .dequantized:
        // The zero point is already taken off: (code − zp)·scale / scale is the centred code.
        // Codes from the dequantized values: exact when each value is (code − zp)·scale as
        // DequantizeLinear computed it in float32.
        for o in 0..<outer {
            for c in 0..<channels {
                let scale = scales?[scaleCount == 1 ? 0 : c] ?? 1
                let base = (o * channels + c) * inner
                for i in base..<(base + inner) {
                    let code = (weight[i] / scale).rounded(.toNearestOrEven)
                    guard code * scale == weight[i], abs(code) <= 65_535 else {
                        // Off the grid: the float weight itself (see `QuantizedWeightForm`).
                        centred.update(from: weight, count: count)
                        return false
                    }
                    centred[i] = code
                }
            }
        }
        return true
    }
}
