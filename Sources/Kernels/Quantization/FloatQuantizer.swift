/// Quantization onto a small floating-point grid (`FloatFormat`) after scaling, for a weight matrix
/// viewed as `[rows, columns]`.
///
/// Scaling:
/// - `.perRow`: one FP32 scale per row, `s = max|w| / format.maxValue` (so the row's largest
///   magnitude lands on the format's largest value); `ŵ = s·round_fmt(w / s)`. Per-tensor is one row.
/// - `.sharedExponent(block:)`: OCP MX style. Each block of `block` consecutive values of a row shares
///   a power-of-two scale `X = 2^(floor(log2 max|v|) − emax_elem)` stored as E8M0 (exponent clamped to
///   −127…127), and each element is `round_fmt(v / X)` with saturation
///   (OCP Microscaling Formats (MX) specification v1.0, the conversion to MX; the quantization methods page in docs/).
///
/// `clip=mse` (`ClippingRule.mse`) tries the `ClippingRule.mseCandidates` fractions of the range
/// (per row) or the shared exponents `e, e−1, e−2` (per block) and keeps the one with the least
/// squared error. A slice of zeros gets scale 0 and dequantizes to zeros.
public struct FloatQuantizer: Sendable, Hashable {
    public enum Scaling: Sendable, Hashable {
        case perRow
        case sharedExponent(block: Int)
    }

    public var format: FloatFormat
    public var scaling: Scaling
    public var clipping: ClippingRule

    public init(format: FloatFormat, scaling: Scaling = .perRow, clipping: ClippingRule = .none) {
        if case .sharedExponent(let block) = scaling { precondition(block > 0, "block must be positive") }
        self.format = format
        self.scaling = scaling
        self.clipping = clipping
    }

    /// The codes of one quantized matrix: each element as its value on the format's grid (every
    /// one is exactly representable, so this is a lossless stand-in for the bit pattern), plus the
    /// scale of each row or block.
    public struct Encoded: Sendable {
        public var rows: Int
        public var columns: Int
        /// Columns per scale (`columns` for `.perRow`).
        public var groupSize: Int
        /// `[rows, columns]` element values on the format grid.
        public var elements: [Float]
        /// `[rows, groupsPerRow]` scales (powers of two for shared exponents).
        public var scales: [Float]

        public var groupsPerRow: Int { columns == 0 ? 0 : (columns + groupSize - 1) / groupSize }
    }

    /// `quantize` of an array (see the buffer form, which reads a weight in place, mapped or not).
    public func quantize(_ weights: [Float], rows: Int, columns: Int, threads: Int = 1) -> Encoded {
        weights.withUnsafeBufferPointer { quantize($0, rows: rows, columns: columns, threads: threads) }
    }

    public func quantize(_ weights: UnsafeBufferPointer<Float>, rows: Int, columns: Int, threads: Int = 1) -> Encoded {
        precondition(weights.count == rows * columns, "weight count does not match rows × columns")
        let group: Int
        switch scaling {
        case .perRow: group = max(columns, 1)
        case .sharedExponent(let block): group = min(block, max(columns, 1))
        }
        let groups = columns == 0 ? 0 : (columns + group - 1) / group
        var elements = [Float](repeating: 0, count: weights.count)
        var scales = [Float](repeating: 0, count: rows * groups)
        weights.withUnsafeBufferPointer { w in
            elements.withUnsafeMutableBufferPointer { e in
                scales.withUnsafeMutableBufferPointer { s in
                    let (wp, ep, sp) = (w.baseAddress, e.baseAddress, s.baseAddress)
                    Parallel.forEach(rows * groups, threads: threads) { index in
                        let row = index / groups
                        let start = row * columns + (index % groups) * group
                        let count = min(group, row * columns + columns - start)
                        let slice = UnsafeBufferPointer(start: wp! + start, count: count)
                        let scale = fit(slice)
                        sp![index] = scale
                        encode(slice, scale: scale, into: ep! + start)
                    }
                }
            }
        }
        return Encoded(rows: rows, columns: columns, groupSize: group, elements: elements, scales: scales)
    }

    /// `ŵ = s·element`, `[rows, columns]`.
    public func dequantize(_ encoded: Encoded) -> [Float] {
        var out = encoded.elements
        let groups = encoded.groupsPerRow
        for index in 0..<(encoded.rows * groups) {
            let row = index / groups
            let start = row * encoded.columns + (index % groups) * encoded.groupSize
            let end = min(start + encoded.groupSize, row * encoded.columns + encoded.columns)
            let scale = encoded.scales[index]
            for i in start..<end { out[i] *= scale }
        }
        return out
    }

    /// Quantize-dequantize in one parallel pass without keeping codes (the fake-quant fast path);
    /// equal to `dequantize(quantize(...))` bit for bit.
    public func fakeQuantize(_ weights: [Float], rows: Int, columns: Int, threads: Int = 1) -> [Float] {
        precondition(weights.count == rows * columns, "weight count does not match rows × columns")
        let group: Int
        switch scaling {
        case .perRow: group = max(columns, 1)
        case .sharedExponent(let block): group = min(block, max(columns, 1))
        }
        let groups = columns == 0 ? 0 : (columns + group - 1) / group
        return weights.withUnsafeBufferPointer { w in
            [Float](unsafeUninitializedCapacity: weights.count) { out, initialized in
                let (wp, op) = (w.baseAddress, out.baseAddress)
                Parallel.forEach(rows * groups, threads: threads) { index in
                    let row = index / groups
                    let start = row * columns + (index % groups) * group
                    let count = min(group, row * columns + columns - start)
                    let slice = UnsafeBufferPointer(start: wp! + start, count: count)
                    let scale = fit(slice)
                    encode(slice, scale: scale, into: op! + start)
                    for i in start..<(start + count) { op![i] *= scale }
                }
                initialized = weights.count
            }
        }
    }

    /// Storage: `n·b` element bits plus a 32-bit scale per row, or an 8-bit E8M0 exponent per
    /// block.
    public func bits(for encoded: Encoded) -> StorageBits {
        let perScale: Int
        switch scaling {
        case .perRow: perScale = 32
        case .sharedExponent: perScale = 8
        }
        return StorageBits(payload: encoded.elements.count * format.bits,
                           metadata: encoded.rows * encoded.groupsPerRow * perScale)
    }

    // MARK: - One row or block

    @usableFromInline
    func fit(_ slice: UnsafeBufferPointer<Float>) -> Float {
        var amax: Float = 0
        for x in slice { amax = max(amax, abs(x)) }
        guard amax > 0, amax.isFinite else { return 0 }
        var candidates: [Float]
        switch scaling {
        case .perRow:
            let full = amax / format.maxValue
            candidates = clipping == .mse ? ClippingRule.mseCandidates.map { amax * $0 / format.maxValue } : [full]
        case .sharedExponent:
            let e = min(max(amax.exponent - format.maxExponent, -127), 127)
            let offsets = clipping == .mse ? [0, -1, -2] : [0]
            candidates = offsets.map { Float(sign: .plus, exponent: max(e + $0, -127), significand: 1) }
        }
        if candidates.count == 1 { return candidates[0] }
        var best = candidates[0]
        var bestError = Double.infinity
        for scale in candidates {
            var error = 0.0
            for x in slice {
                let d = Double(x) - Double(format.round(x / scale) * scale)
                error += d * d
            }
            if error < bestError {
                bestError = error
                best = scale
            }
        }
        return best
    }

    @usableFromInline
    func encode(_ slice: UnsafeBufferPointer<Float>, scale: Float, into out: UnsafeMutablePointer<Float>) {
        if scale == 0 {
            for i in 0..<slice.count { out[i] = 0 }
            return
        }
        for i in 0..<slice.count { out[i] = format.round(slice[i] / scale) }
    }
}
