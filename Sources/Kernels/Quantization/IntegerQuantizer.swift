/// Uniform integer quantization of a weight matrix viewed as `[rows, columns]` (rows = output
/// channels, or one row for a per-tensor scale), with one scale (and zero point) per row or per
/// group of `groupSize` consecutive columns of a row.
///
/// Mappings (named after the reference code each reproduces):
/// - `.symmetric` (`sym-absmax`): `s = r / (2^(B−1) − 1)` with `r = max|w|` (or the clipped range),
///   `q = clamp(round(w / s), −(2^(B−1) − 1), 2^(B−1) − 1)`, `ŵ = q·s`.
/// - `.hawq` (`sym-hawq`, HAWQ-V3 weights): the same scale floored at 1e-8, codes clamped to
///   `[−2^(B−1), 2^(B−1) − 1]` (the asymmetric clamp of the reference, -2^(B−1) allowed).
/// - `.affine` (min/max with an integer zero point, PyTorch `MinMaxObserver` convention): the range
///   is widened to contain 0 (`lo = min(min w, 0)`, `hi = max(max w, 0)`) so that 0 is exact,
///   `s = (hi − lo) / (2^B − 1)`, `z = clamp(round(−lo / s), 0, 2^B − 1)`,
///   `q = clamp(round(w / s) + z, 0, 2^B − 1)`, `ŵ = (q − z)·s`.
///
/// `round` is round-half-to-even and the arithmetic is Float32 (division, not multiplication by a
/// reciprocal), as in ONNX Runtime's QuantizeLinear. A slice whose range is 0 (all zeros) gets scale
/// 0 and codes 0 (the zero point for `.affine`), so it dequantizes to exact zeros, never NaN. A NaN
/// weight has no integer code and becomes 0 (NaN is ignored when the range is taken).
public struct IntegerQuantizer: Sendable, Hashable {
    public enum Mapping: Sendable, Hashable { case symmetric, hawq, affine }

    /// Code bit-width B, 2...16.
    public var bits: Int
    public var mapping: Mapping
    public var clipping: ClippingRule
    /// Columns per scale; nil means one scale per row.
    public var groupSize: Int?

    public init(bits: Int, mapping: Mapping = .symmetric, clipping: ClippingRule = .none, groupSize: Int? = nil) {
        precondition((2...16).contains(bits), "integer bit-width must be 2...16")
        precondition(groupSize.map { $0 > 0 } ?? true, "group size must be positive")
        self.bits = bits
        self.mapping = mapping
        self.clipping = clipping
        self.groupSize = groupSize
    }

    /// The codes and the per-group parameters of one quantized matrix.
    public struct Encoded: Sendable {
        public var rows: Int
        public var columns: Int
        /// Columns per scale (`columns` when there is one scale per row); the last group of a row may
        /// be shorter.
        public var groupSize: Int
        /// `[rows, columns]` integer codes.
        public var codes: [Int32]
        /// `[rows, groupsPerRow]` scales.
        public var scales: [Float]
        /// `[rows, groupsPerRow]` zero points (`.affine` only, else empty).
        public var zeroPoints: [Int32]

        public var groupsPerRow: Int { columns == 0 ? 0 : (columns + groupSize - 1) / groupSize }
    }

    /// The smallest and largest code.
    public var codeRange: ClosedRange<Int32> {
        switch mapping {
        case .symmetric: return -(Int32(1) << (bits - 1) - 1)...(Int32(1) << (bits - 1) - 1)
        case .hawq: return -(Int32(1) << (bits - 1))...(Int32(1) << (bits - 1) - 1)
        case .affine: return 0...(Int32(1) << bits - 1)
        }
    }

    /// `quantize` of an array (see the buffer form, which reads a weight in place, mapped or not).
    public func quantize(_ weights: [Float], rows: Int, columns: Int, threads: Int = 1) -> Encoded {
        weights.withUnsafeBufferPointer { quantize($0, rows: rows, columns: columns, threads: threads) }
    }

    /// Quantizes `weights` (`[rows, columns]`, row-major), rows in parallel on up to `threads` threads.
    public func quantize(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int, threads: Int = 1) -> Encoded {
        precondition(weights.count == rows * columns, "weight count does not match rows × columns")
        let group = min(groupSize ?? columns, max(columns, 1))
        let groups = columns == 0 ? 0 : (columns + group - 1) / group
        var codes = [Int32](repeating: 0, count: weights.count)
        var scales = [Float](repeating: 0, count: rows * groups)
        var zeros = [Int32](repeating: 0, count: mapping == .affine ? rows * groups : 0)
        weights.withUnsafeBufferPointer { w in
            codes.withUnsafeMutableBufferPointer { c in
                scales.withUnsafeMutableBufferPointer { s in
                    zeros.withUnsafeMutableBufferPointer { z in
                        // An empty array's buffer may still have a base address (the shared empty
                        // storage): zero points are written only when they exist.
                        let (wp, cp, sp) = (w.baseAddress, c.baseAddress, s.baseAddress)
                        let zp = z.isEmpty ? nil : z.baseAddress
                        Parallel.forEach(rows * groups, threads: threads) { index in
                            let row = index / groups
                            let start = row * columns + (index % groups) * group
                            let count = min(group, row * columns + columns - start)
                            let slice = UnsafeBufferPointer(start: wp! + start, count: count)
                            let (scale, zero) = fit(slice)
                            sp![index] = scale
                            if zp != nil { zp![index] = zero }
                            encode(slice, scale: scale, zero: zero, into: cp! + start)
                        }
                    }
                }
            }
        }
        return Encoded(rows: rows, columns: columns, groupSize: group, codes: codes, scales: scales, zeroPoints: zeros)
    }

    /// The dequantized matrix `ŵ = (q − z)·s`, `[rows, columns]`.
    public func dequantize(_ encoded: Encoded) -> [Float] {
        var out = [Float](repeating: 0, count: encoded.codes.count)
        let groups = encoded.groupsPerRow
        for row in 0..<encoded.rows {
            for g in 0..<groups {
                let scale = encoded.scales[row * groups + g]
                let zero = encoded.zeroPoints.isEmpty ? 0 : encoded.zeroPoints[row * groups + g]
                let start = row * encoded.columns + g * encoded.groupSize
                let end = min(start + encoded.groupSize, row * encoded.columns + encoded.columns)
                for i in start..<end { out[i] = Float(encoded.codes[i] - zero) * scale }
            }
        }
        return out
    }

    /// Quantize-dequantize in one pass without keeping codes: the fake-quant fast path.
    public func fakeQuantize(_ weights: [Float], rows: Int, columns: Int, threads: Int = 1) -> [Float] {
        precondition(weights.count == rows * columns, "weight count does not match rows × columns")
        let group = min(groupSize ?? columns, max(columns, 1))
        let groups = columns == 0 ? 0 : (columns + group - 1) / group
        return weights.withUnsafeBufferPointer { w in
            [Float](unsafeUninitializedCapacity: weights.count) { o, initialized in
                let (wp, op) = (w.baseAddress, o.baseAddress)
                Parallel.forEach(rows * groups, threads: threads) { index in
                    let row = index / groups
                    let start = row * columns + (index % groups) * group
                    let count = min(group, row * columns + columns - start)
                    let slice = UnsafeBufferPointer(start: wp! + start, count: count)
                    let (scale, zero) = fit(slice)
                    roundTrip(slice, scale: scale, zero: zero, into: op! + start)
                }
                initialized = weights.count
            }
        }
    }

    /// Storage: `n·B` code bits; per group a Float32 scale (32 bits), plus a B-bit
    /// zero point for `.affine`.
    public func bits(for encoded: Encoded) -> StorageBits {
        let groups = encoded.rows * encoded.groupsPerRow
        return StorageBits(payload: encoded.codes.count * bits,
                           metadata: groups * (32 + (mapping == .affine ? bits : 0)))
    }

    /// Fake-quantizes `count` values with a fixed scale and zero point (static activation
    /// quantization): `out = (clamp(round(x / s) + z, lo, hi) − z)·s`; `out` may alias `x`.
    public func fakeQuantize(_ x: UnsafePointer<Float>, count: Int, scale: Float, zero: Int32,
                             into out: UnsafeMutablePointer<Float>) {
        roundTrip(UnsafeBufferPointer(start: x, count: count), scale: scale, zero: zero, into: out)
    }

    /// The scale and zero point this quantizer derives from an observed range `[lo, hi]` (lo ≤ 0 ≤ hi),
    /// e.g. activation calibration's running min and max.
    public func parameters(forRange lo: Float, _ hi: Float) -> (scale: Float, zero: Int32) {
        parameters(lo: min(lo, 0), hi: max(hi, 0))
    }

    // MARK: - One group

    /// The scale and zero point for one slice, after the clipping rule.
    @usableFromInline
    func fit(_ slice: UnsafeBufferPointer<Float>) -> (Float, Int32) {
        var lo: Float = 0
        var hi: Float = 0
        for x in slice {
            lo = min(lo, x)
            hi = max(hi, x)
        }
        switch clipping {
        case .none:
            return parameters(lo: lo, hi: hi)
        case .percentile(let p):
            if mapping == .affine {
                let values = Array(slice)
                return parameters(lo: min(percentile(values, 100 - p), 0), hi: max(percentile(values, p), 0))
            }
            let r = percentile(slice.map { abs($0) }, p)
            return parameters(lo: -r, hi: r)
        case .mse:
            var best = parameters(lo: lo, hi: hi)
            var bestError = Double.infinity
            var scratch = [Float](repeating: 0, count: slice.count)
            for fraction in ClippingRule.mseCandidates {
                let candidate = parameters(lo: lo * fraction, hi: hi * fraction)
                let error = scratch.withUnsafeMutableBufferPointer { s -> Double in
                    roundTrip(slice, scale: candidate.0, zero: candidate.1, into: s.baseAddress!)
                    var sum = 0.0
                    for i in 0..<slice.count {
                        let d = Double(slice[i] - s[i])
                        sum += d * d
                    }
                    return sum
                }
                if error < bestError {
                    bestError = error
                    best = candidate
                }
            }
            return best
        }
    }

    /// Scale and zero point covering `[lo, hi]` (lo ≤ 0 ≤ hi).
    @usableFromInline
    func parameters(lo: Float, hi: Float) -> (Float, Int32) {
        switch mapping {
        case .symmetric:
            return (max(-lo, hi) / Float(codeRange.upperBound), 0)
        case .hawq:
            return (max(max(-lo, hi) / Float(codeRange.upperBound), 1e-8), 0)
        case .affine:
            let levels = Float(codeRange.upperBound)
            let scale = (hi - lo) / levels
            guard scale > 0 else { return (0, 0) }
            let zero = min(max((-lo / scale).rounded(.toNearestOrEven), 0), levels)
            return (scale, Int32(zero))
        }
    }

    @usableFromInline
    func encode(_ slice: UnsafeBufferPointer<Float>, scale: Float, zero: Int32, into codes: UnsafeMutablePointer<Int32>) {
        let lo = Float(codeRange.lowerBound)
        let hi = Float(codeRange.upperBound)
        let z = Float(zero)
        if scale == 0 {
            for i in 0..<slice.count { codes[i] = zero }
            return
        }
        for i in 0..<slice.count {
            let q = min(max((slice[i] / scale).rounded(.toNearestOrEven) + z, lo), hi)
            codes[i] = q.isNaN ? zero : Int32(q)  // NaN has no integer code: it becomes 0
        }
    }

    @usableFromInline
    func roundTrip(_ slice: UnsafeBufferPointer<Float>, scale: Float, zero: Int32, into out: UnsafeMutablePointer<Float>) {
        if scale == 0 {
            for i in 0..<slice.count { out[i] = 0 }
            return
        }
        let lo = Float(codeRange.lowerBound)
        let hi = Float(codeRange.upperBound)
        let z = Float(zero)
        for i in 0..<slice.count {
            // Codes are integers below 2^17, so the Float arithmetic is exact apart from the final
            // product, which matches `Float(q − z) · s` of `dequantize` bit for bit.
            let q = min(max((slice[i] / scale).rounded(.toNearestOrEven) + z, lo), hi)
            out[i] = q.isNaN ? 0 : (q - z) * scale
        }
    }
}
