import Executor
import Foundation

/// The result of quantizing one layer's weight: what the executor substitutes, and what it costs.
public struct QuantizedWeights: Sendable {
    /// Quantize-dequantized weights, same shape and layout as the input tensor.
    public var values: [Float]
    /// A replacement bias when the method changes it, else nil.
    public var bias: [Float]?
    /// Bits for codes plus all metadata (scales, zero points, codebooks...).
    public var totalBits: Int
    /// Bits for the codes alone ("weights only").
    public var payloadBits: Int
    /// `10·log10(‖W‖² / ‖W − Q(W)‖²)` in dB; +inf when the quantization is exact.
    public var sqnrDB: Double
    /// SplitQuant only: the size when the three parts are stored densely (`3·n·b` codes plus three
    /// sets of metadata), shown next to the compact `totalBits` for comparison; nil for other methods.
    public var denseTotalBits: Int?

    public init(values: [Float], bias: [Float]? = nil, totalBits: Int, payloadBits: Int, sqnrDB: Double,
                denseTotalBits: Int? = nil) {
        self.values = values
        self.bias = bias
        self.totalBits = totalBits
        self.payloadBits = payloadBits
        self.sqnrDB = sqnrDB
        self.denseTotalBits = denseTotalBits
    }

    /// Signal-to-quantization-noise ratio of `quantized` against `original`, in dB (Double sums):
    /// +inf when they are equal (including all-zero weights), −inf when the original is all zero but
    /// the quantized is not.
    public static func sqnr(original: some Sequence<Float>, quantized: [Float]) -> Double {
        var signal = 0.0
        var noise = 0.0
        for (w, q) in zip(original, quantized) {
            signal += Double(w) * Double(w)
            let d = Double(w) - Double(q)
            noise += d * d
        }
        if noise == 0 { return .infinity }
        return 10 * (signal / noise).log10
    }
}

extension Double {
    fileprivate var log10: Double { Foundation.log10(self) }
}
