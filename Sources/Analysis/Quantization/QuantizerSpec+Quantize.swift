import Executor
import Kernels

extension QuantizerSpec {
    /// Quantize-dequantizes a layer's weight with this spec.
    ///
    /// - Parameters:
    ///   - weight: the FP32 weight tensor; it is not modified.
    ///   - outputAxis: the axis indexing output channels (`QuantizableLayer.outputAxis`); per-channel
    ///     scales are per slice along it.
    ///   - bias: the layer's bias; SplitQuant splits it with the weights (its parts stay FP32 and sum
    ///     back exactly, so no replacement bias is returned).
    ///   - sensitivity: per-weight sensitivity in the weight's layout (the Fisher diagonal, finite and
    ///     ≥ 0), used by `lut` (also inside `split3:lut`) to weight its k-means; every other family
    ///     ignores it. nil: plain k-means.
    ///   - threads: threads for the per-channel loops.
    /// - Returns: the dequantized weight in the input's shape and layout, its storage and its SQNR.
    public func quantize(weight: Tensor, outputAxis: Int, bias: Tensor? = nil, sensitivity: [Float]? = nil,
                         threads: Int = 1) throws -> QuantizedWeights {
        let layout = try ChannelLayout(shape: weight.shape, outputAxis: outputAxis)
        if let sensitivity, sensitivity.count != weight.count {
            throw QScopeError("sensitivity has \(sensitivity.count) values for a weight of \(weight.count)")
        }
        let channelMajorSensitivity = usesSensitivity ? sensitivity.map(layout.toChannelMajor) : nil
        func quantizeMatrix(_ matrix: UnsafeBufferPointer<Float>) throws -> (values: [Float], bits: StorageBits, dense: Int?) {
            if case .split(let inner) = family {
                // As in SplitQuant's reference: Conv weights (rank ≥ 3) are clustered per output kernel, Gemm/MatMul
                // weights over the whole matrix. (SplitQuant masks a copy of the matrix per part anyway.)
                let split = SplitQuantizer(inner: inner, perChannel: weight.shape.count >= 3)
                let result = try split.quantize(Array(matrix), channels: layout.channels, columns: layout.columns,
                                                sensitivity: channelMajorSensitivity, threads: threads)
                return (result.values, result.compact, result.dense.total)
            }
            let (values, bits) = try quantizeChannelMajor(matrix, channels: layout.channels, columns: layout.columns,
                                                          sensitivity: channelMajorSensitivity, threads: threads)
            return (values, bits, nil)
        }
        // A weight already laid out channel-major (Conv, Gemm with transB) is read in place, through
        // its buffer, whether owned or mapped from an external data file; others are permuted once.
        let (values, bits, dense) = try layout.isChannelMajor
            ? weight.values.withUnsafeBufferPointer(quantizeMatrix)
            : layout.toChannelMajor(weight.values).withUnsafeBufferPointer(quantizeMatrix)
        let restored = layout.fromChannelMajor(values)
        return QuantizedWeights(values: restored, bias: nil, totalBits: bits.total, payloadBits: bits.payload,
                                sqnrDB: QuantizedWeights.sqnr(original: weight.values, quantized: restored),
                                denseTotalBits: dense)
    }

    /// Whether a sensitivity (Fisher diagonal) changes what this spec computes: `lut`, alone or as
    /// SplitQuant's inner spec.
    public var usesSensitivity: Bool {
        switch family {
        case .lookupTable: return true
        case .split(let inner): return inner.usesSensitivity
        default: return false
        }
    }

    /// Quantize-dequantizes a `[channels, columns]` matrix (every family but `split3`); `sensitivity`
    /// (same layout) weights `lut`'s k-means.
    func quantizeChannelMajor(_ matrix: [Float], channels: Int, columns: Int, sensitivity: [Float]? = nil,
                              threads: Int) throws -> ([Float], StorageBits) {
        try matrix.withUnsafeBufferPointer {
            try quantizeChannelMajor($0, channels: channels, columns: columns, sensitivity: sensitivity, threads: threads)
        }
    }

    /// `quantizeChannelMajor` reading the matrix in place.
    func quantizeChannelMajor(_ matrix: UnsafeBufferPointer<Float>, channels: Int, columns: Int, sensitivity: [Float]? = nil,
                              threads: Int) throws -> ([Float], StorageBits) {
        func shape(_ granularity: Granularity) -> (rows: Int, columns: Int) {
            granularity == .tensor ? (1, channels * columns) : (channels, columns)
        }
        switch family {
        case .integer(let bits, let mapping, let granularity, let clipping):
            var quantizer = IntegerQuantizer(bits: bits, mapping: mapping, clipping: clipping)
            if case .group(let size) = granularity { quantizer.groupSize = size }
            let (r, c) = shape(granularity)
            let encoded = quantizer.quantize(matrix, rows: r, columns: c, threads: threads)
            return (quantizer.dequantize(encoded), quantizer.bits(for: encoded))
        case .float(let format, let granularity, let clipping):
            var quantizer = FloatQuantizer(format: format, clipping: clipping)
            if case .group(let size) = granularity { quantizer.scaling = .sharedExponent(block: size) }
            let (r, c) = shape(granularity)
            let encoded = quantizer.quantize(matrix, rows: r, columns: c, threads: threads)
            return (quantizer.dequantize(encoded), quantizer.bits(for: encoded))
        case .power(let bits, let exponent, let granularity):
            let (r, c) = shape(granularity)
            let a = exponent ?? PowerQuantizer.searchExponent(matrix, rows: r, columns: c, bits: bits, threads: threads)
            let quantizer = PowerQuantizer(bits: bits, exponent: a)
            let encoded = quantizer.quantize(matrix, rows: r, columns: c, threads: threads)
            return (quantizer.dequantize(encoded), quantizer.bits(for: encoded))
        case .powerOfTwo(let bits, let granularity):
            let quantizer = PowerOfTwoQuantizer(bits: bits)
            let (r, c) = shape(granularity)
            let encoded = quantizer.quantize(matrix, rows: r, columns: c, threads: threads)
            return (quantizer.dequantize(encoded), quantizer.bits(for: encoded))
        case .lookupTable(let bits, let sparse):
            let quantizer = LookupTableQuantizer(bits: bits, sparsePercent: sparse)
            let encoded = quantizer.quantize(matrix, rows: channels, columns: columns, sensitivity: sensitivity, threads: threads)
            return (quantizer.dequantize(encoded), quantizer.bits(for: encoded))
        case .stored(let bits, let signed, let perTensor):
            // The weight is the stored one (a layer stored in this format, checked by
            // `QuantizableLayer.check(_:)`): kept as it is. Metadata: a float32 scale per channel
            // (or one), plus a `bits`-wide zero point each for unsigned codes.
            let scales = perTensor ? 1 : channels
            return (Array(matrix), StorageBits(payload: matrix.count * bits, metadata: scales * (32 + (signed ? 0 : bits))))
        case .split:
            let split = SplitQuantizer(inner: try innerOfSplit(), perChannel: false)
            let result = try split.quantize(Array(matrix), channels: channels, columns: columns, sensitivity: sensitivity, threads: threads)
            return (result.values, result.compact)
        }
    }

    private func innerOfSplit() throws -> QuantizerSpec {
        guard case .split(let inner) = family else { throw QScopeError("not a split spec") }
        return inner
    }
}
