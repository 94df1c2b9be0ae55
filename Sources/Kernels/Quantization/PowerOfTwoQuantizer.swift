#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// DenseShift zero-free power-of-two quantizer for post-training use (the published method is QAT only).
///
/// Levels are `±α·2^k`, `k = 0 … 2^(B−1) − 1` (1 sign bit + B−1 shift bits, no zero: 3 bits give
/// {±1, ±2, ±4, ±8}·α). Each weight takes the nearest level in the linear domain (MSE-optimal; the
/// boundary between `α·2^k` and `α·2^(k+1)` is `1.5·α·2^k`, exact ties go to the larger level), and
/// 0 goes to +α. Per row, α is searched on a log grid, `α = max|w| / 2^K · 2^(j/8)` for
/// j = −32 … 0 (K = 2^(B−1) − 1), minimising the row's squared error. A row of zeros gets α = 0 and
/// stays zero (no zero-free level fits it). B is at most 6 (shifts 0…31): wider codes would span more
/// than the Float exponent range below max|w|.
public struct PowerOfTwoQuantizer: Sendable, Hashable {
    public var bits: Int

    public init(bits: Int) {
        precondition((2...6).contains(bits), "power-of-two bit-width must be 2...6")
        self.bits = bits
    }

    public var maxShift: Int { (1 << (bits - 1)) - 1 }

    public struct Encoded: Sendable {
        public var rows: Int
        public var columns: Int
        /// `[rows, columns]`: `k` for `+α·2^k`, `−(k + 1)` for `−α·2^k`.
        public var codes: [Int32]
        /// `[rows]` α.
        public var scales: [Float]
    }

    /// `quantize` of an array (see the buffer form, which reads a weight in place, mapped or not).
    public func quantize(_ weights: [Float], rows: Int, columns: Int, threads: Int = 1) -> Encoded {
        weights.withUnsafeBufferPointer { quantize($0, rows: rows, columns: columns, threads: threads) }
    }

    public func quantize(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int, threads: Int = 1) -> Encoded {
        precondition(weights.count == rows * columns, "weight count does not match rows × columns")
        var codes = [Int32](repeating: 0, count: weights.count)
        var scales = [Float](repeating: 0, count: rows)
        weights.withUnsafeBufferPointer { w in
            codes.withUnsafeMutableBufferPointer { c in
                scales.withUnsafeMutableBufferPointer { s in
                    let (wp, cp, sp) = (w.baseAddress!, c.baseAddress!, s.baseAddress!)
                    Parallel.forEach(rows, threads: threads) { row in
                        let slice = UnsafeBufferPointer(start: wp + row * columns, count: columns)
                        var amax: Float = 0
                        for x in slice { amax = max(amax, abs(x)) }
                        guard amax > 0, amax.isFinite else { return }
                        let top = amax / Float(sign: .plus, exponent: maxShift, significand: 1)
                        var best = top
                        var bestError = Double.infinity
                        for j in -32...0 {
                            let alpha = top * Float(exp2(Double(j) / 8))
                            var error = 0.0
                            for x in slice {
                                let d = Double(x) - Double(value(code: code(x, alpha: alpha), alpha: alpha))
                                error += d * d
                            }
                            if error < bestError {
                                bestError = error
                                best = alpha
                            }
                        }
                        sp[row] = best
                        for i in 0..<columns { cp[row * columns + i] = code(slice[i], alpha: best) }
                    }
                }
            }
        }
        return Encoded(rows: rows, columns: columns, codes: codes, scales: scales)
    }

    public func dequantize(_ encoded: Encoded) -> [Float] {
        (0..<encoded.codes.count).map { value(code: encoded.codes[$0], alpha: encoded.scales[$0 / encoded.columns]) }
    }

    public func fakeQuantize(_ weights: [Float], rows: Int, columns: Int, threads: Int = 1) -> [Float] {
        dequantize(quantize(weights, rows: rows, columns: columns, threads: threads))
    }

    /// Storage: `n·b`, plus `r·32` for α because a PTQ scale is not folded into BN.
    public func bits(for encoded: Encoded) -> StorageBits {
        StorageBits(payload: encoded.codes.count * bits, metadata: encoded.rows * 32)
    }

    @inline(__always)
    func code(_ x: Float, alpha: Float) -> Int32 {
        let t = abs(x) / alpha
        // Nearest of α·2^k: k = 0 below 1.5, else floor(log2(t / 1.5)) + 1 (Float.exponent is the
        // exact floor(log2) of a normal positive value), capped at the largest shift.
        let k = t < 1.5 ? 0 : min(Int((t / 1.5).exponent) + 1, maxShift)
        return x < 0 ? -Int32(k) - 1 : Int32(k)
    }

    @inline(__always)
    func value(code: Int32, alpha: Float) -> Float {
        code >= 0 ? alpha * Float(sign: .plus, exponent: Int(code), significand: 1)
            : -alpha * Float(sign: .plus, exponent: Int(-code - 1), significand: 1)
    }
}
