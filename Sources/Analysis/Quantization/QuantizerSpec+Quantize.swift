import Kernels

extension QuantizerSpec {
    /// Quantize-dequantizes a layer's weight with this spec.
    ///
    /// - Parameters:
    ///   - weight: the FP32 weight tensor; it is not modified.
    ///   - outputAxis: the axis indexing output channels (`QuantizableLayer.outputAxis`); per-channel
    ///     scales are per slice along it.
    ///   - bias: the layer's bias, for methods that split or change it (SplitQuant).
    ///   - threads: threads for the per-channel loops.
    /// - Returns: the dequantized weight in the input's shape and layout, its storage and its SQNR.
    public func quantize(weight: Tensor, outputAxis: Int, bias: Tensor? = nil, threads: Int = 1) throws -> QuantizedWeights {
        let layout = try ChannelLayout(shape: weight.shape, outputAxis: outputAxis)
        let matrix = layout.toChannelMajor(weight.values)
        let (values, bits) = try quantizeChannelMajor(matrix, channels: layout.channels, columns: layout.columns,
                                                      threads: threads)
        let restored = layout.fromChannelMajor(values)
        return QuantizedWeights(values: restored, bias: nil, totalBits: bits.total, payloadBits: bits.payload,
                                sqnrDB: QuantizedWeights.sqnr(original: weight.values, quantized: restored))
    }

    /// Quantize-dequantizes a `[channels, columns]` matrix.
    func quantizeChannelMajor(_ matrix: [Float], channels: Int, columns: Int, threads: Int) throws -> ([Float], StorageBits) {
        switch family {
        case .integer(let bits, let mapping, let granularity, let clipping):
            var quantizer = IntegerQuantizer(bits: bits, mapping: mapping, clipping: clipping)
            var rows = channels
            var cols = columns
            switch granularity {
            case .channel: break
            case .tensor: (rows, cols) = (1, channels * columns)
            case .group(let size): quantizer.groupSize = size
            }
            let encoded = quantizer.quantize(matrix, rows: rows, columns: cols, threads: threads)
            return (quantizer.dequantize(encoded), quantizer.bits(for: encoded))
        default:
            throw QScopeError("quantizer '\(self)' is not implemented yet")
        }
    }
}
