#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// NUPES / PowerQuant power-exponent quantizer (reconstructed from the papers: no public code).
///
/// Per row: `u = sign(w)·|w|^a`, `s = max|u| / (2^(B−1) − 1)`,
/// `q = clamp(round(u / s), −(2^(B−1) − 1), 2^(B−1) − 1)`, `ŵ = sign(q)·(|q|·s)^(1/a)`.
/// The grid `±(k·s)^(1/a)` is dense near 0 and sparse for large |w| when `a < 1`; `a = 1` is the
/// uniform `sym-absmax` grid. Powers are computed in Double. A zero row gets scale 0 and zeros.
public struct PowerQuantizer: Sendable, Hashable {
    public var bits: Int
    /// The exponent `a`, in (0, 1].
    public var exponent: Double

    public init(bits: Int, exponent: Double) {
        precondition((2...16).contains(bits) && exponent > 0 && exponent <= 1, "bad power quantizer")
        self.bits = bits
        self.exponent = exponent
    }

    /// Exponents tried by `searchExponent`: 0.20, 0.25, …, 1.00.
    public static let exponentCandidates: [Double] = (4...20).map { Double($0) / 20 }

    public struct Encoded: Sendable {
        public var rows: Int
        public var columns: Int
        /// `[rows, columns]` signed codes.
        public var codes: [Int32]
        /// `[rows]` scales of the transformed values `u`.
        public var scales: [Float]
        public var exponent: Double
    }

    /// `quantize` of an array (see the buffer form, which reads a weight in place, mapped or not).
    public func quantize(_ weights: [Float], rows: Int, columns: Int, threads: Int = 1) -> Encoded {
        weights.withUnsafeBufferPointer { quantize($0, rows: rows, columns: columns, threads: threads) }
    }

    public func quantize(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int, threads: Int = 1) -> Encoded {
        precondition(weights.count == rows * columns, "weight count does not match rows × columns")
        let qmax = Double((1 << (bits - 1)) - 1)
        var codes = [Int32](repeating: 0, count: weights.count)
        var scales = [Float](repeating: 0, count: rows)
        let a = exponent
        weights.withUnsafeBufferPointer { w in
            codes.withUnsafeMutableBufferPointer { c in
                scales.withUnsafeMutableBufferPointer { s in
                    let (wp, cp, sp) = (w.baseAddress!, c.baseAddress!, s.baseAddress!)
                    Parallel.forEach(rows, threads: threads) { row in
                        let base = row * columns
                        var umax = 0.0
                        for i in 0..<columns { umax = max(umax, pow(Double(abs(wp[base + i])), a)) }
                        let scale = Float(umax / qmax)
                        sp[row] = scale
                        guard scale > 0 else { return }
                        for i in 0..<columns {
                            let x = Double(wp[base + i])
                            let u = pow(abs(x), a) / Double(scale)
                            let q = min(u.rounded(.toNearestOrEven), qmax)
                            cp[base + i] = Int32(x < 0 ? -q : q)
                        }
                    }
                }
            }
        }
        return Encoded(rows: rows, columns: columns, codes: codes, scales: scales, exponent: exponent)
    }

    public func dequantize(_ encoded: Encoded) -> [Float] {
        var out = [Float](repeating: 0, count: encoded.codes.count)
        let inverse = 1 / encoded.exponent
        for i in 0..<out.count {
            let q = encoded.codes[i]
            guard q != 0 else { continue }
            let magnitude = Float(pow(Double(abs(q)) * Double(encoded.scales[i / encoded.columns]), inverse))
            out[i] = q < 0 ? -magnitude : magnitude
        }
        return out
    }

    public func fakeQuantize(_ weights: [Float], rows: Int, columns: Int, threads: Int = 1) -> [Float] {
        dequantize(quantize(weights, rows: rows, columns: columns, threads: threads))
    }

    /// Storage: `n·b + r·32 + 32` (codes, a scale per row, the exponent `a`).
    public func bits(for encoded: Encoded) -> StorageBits {
        StorageBits(payload: encoded.codes.count * bits, metadata: encoded.rows * 32 + 32)
    }

    /// The exponent among `candidates` whose quantization of the whole matrix has the least squared
    /// error (PowerQuant's data-free search, here per layer, on a 0.05 grid); ties keep the
    /// larger exponent (closer to uniform).
    public static func searchExponent(_ weights: [Float], rows: Int, columns: Int, bits: Int,
                                      candidates: [Double] = exponentCandidates, threads: Int = 1) -> Double {
        weights.withUnsafeBufferPointer {
            searchExponent($0, rows: rows, columns: columns, bits: bits, candidates: candidates, threads: threads)
        }
    }

    /// `searchExponent` reading the weights in place.
    public static func searchExponent(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int, bits: Int,
                                      candidates: [Double] = exponentCandidates, threads: Int = 1) -> Double {
        var best = 1.0
        var bestError = Double.infinity
        for a in candidates.sorted(by: >) {
            let quantizer = PowerQuantizer(bits: bits, exponent: a)
            let q = quantizer.dequantize(quantizer.quantize(weights, rows: rows, columns: columns, threads: threads))
            var error = 0.0
            for i in 0..<weights.count {
                let d = Double(weights[i]) - Double(q[i])
                error += d * d
            }
            if error < bestError {
                bestError = error
                best = a
            }
        }
        return best
    }
}
