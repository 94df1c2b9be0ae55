import Executor
import Kernels

/// One layer's quantized weight as the export formats store it: integer or FP8 codes in the
/// weight's own layout with their scales (and zero points), or, for grids no standard container
/// holds, the dequantized float values ("baked").
///
/// The codes and scales are those of `QuantizerSpec.quantize` (same quantizer, same channel-major
/// matrix), so `dequantized()` equals the fake-quantized weights qscope evaluates, bit for bit:
/// `(q − z)·s` in Float32 with exact small-integer codes.
public struct WeightEncoding: Sendable {
    public enum Storage: Sendable {
        /// Integer codes (tensor layout) in an ONNX container `type` (int4/uint4/int8/uint8/int16/
        /// uint16); `scales`/`zeroPoints` have one entry per output channel (or one for per-tensor);
        /// `zeroPoints` is nil for symmetric grids (zero point 0).
        case integer(type: DataType, codes: [Int32], scales: [Float], zeroPoints: [Int32]?)
        /// FP8 elements on the format grid (tensor layout); real value = element·scale.
        case float8(type: DataType, elements: [Float], scales: [Float])
        /// No standard container: the fake-quantized float values, and why.
        case baked(values: [Float], reason: String)
    }

    public var storage: Storage
    /// Weight shape, as in the model.
    public var shape: [Int]
    /// The axis the scales run along (`QuantizableLayer.outputAxis`); nil for one scale per tensor.
    public var axis: Int?
    /// The spec's code bit-width B (the container may be wider: int3 codes live in int4).
    public var bits: Int
    /// Symmetric grid (zero point 0): `intB`, `intB:hawq`, FP8.
    public var symmetric: Bool
    /// Smallest and largest code the quantizer can produce (integers only).
    public var codeRange: ClosedRange<Int32>?

    /// The lowest ai.onnx opset whose DequantizeLinear takes this storage per axis: 13 for 8-bit
    /// integers, 19 for FP8, 21 for 4- and 16-bit integers; 0 for baked weights.
    public var minimumOpset: Int {
        switch storage {
        case .integer(let type, _, _, _): return type == .int8 || type == .uint8 ? 13 : 21
        case .float8: return 19
        case .baked: return 0
        }
    }

    public var isBaked: Bool {
        if case .baked = storage { return true }
        return false
    }

    /// Encodes `weight` with `spec` (per output channel along `outputAxis`, or per tensor). A `stored`
    /// spec writes the codes, scales and zero points the model file stores (`stored`, required then).
    public static func encode(_ spec: QuantizerSpec, weight: Tensor, outputAxis: Int,
                              stored: StoredQuantization? = nil) throws -> WeightEncoding {
        let layout = try ChannelLayout(shape: weight.shape, outputAxis: outputAxis)
        let matrix = layout.toChannelMajor(weight.values)
        func baked(_ reason: String) throws -> WeightEncoding {
            let values = try spec.quantize(weight: weight, outputAxis: outputAxis).values
            return WeightEncoding(storage: .baked(values: values, reason: reason), shape: weight.shape, axis: nil,
                                  bits: spec.bits, symmetric: false, codeRange: nil)
        }
        switch spec.family {
        case .integer(let bits, let mapping, let granularity, let clipping):
            if case .group = granularity { return try baked("group scales (ONNX blocks run along one axis only)") }
            let perTensor = granularity == .tensor
            let quantizer = IntegerQuantizer(bits: bits, mapping: mapping, clipping: clipping)
            let rows = perTensor ? 1 : layout.channels
            let encoded = quantizer.quantize(matrix, rows: rows, columns: matrix.count / max(rows, 1))
            let codes = layout.fromChannelMajor(encoded.codes.map { Float($0) }).map { Int32($0) }
            let signed = mapping != .affine
            let type: DataType = bits <= 4 ? (signed ? .int4 : .uint4) : bits <= 8 ? (signed ? .int8 : .uint8) : (signed ? .int16 : .uint16)
            return WeightEncoding(storage: .integer(type: type, codes: codes, scales: encoded.scales,
                                                    zeroPoints: signed ? nil : encoded.zeroPoints),
                                  shape: weight.shape, axis: perTensor ? nil : outputAxis, bits: bits, symmetric: signed,
                                  codeRange: quantizer.codeRange)
        case .float(let format, let granularity, let clipping):
            guard format == .e4m3 || format == .e5m2 else { return try baked("\(format) has no ONNX type before opset 23 (fp4) or at all (fp6)") }
            if case .group = granularity { return try baked("MX block scales (shared exponents) have no ONNX form at opset 21") }
            let perTensor = granularity == .tensor
            let quantizer = FloatQuantizer(format: format, clipping: clipping)
            let rows = perTensor ? 1 : layout.channels
            let encoded = quantizer.quantize(matrix, rows: rows, columns: matrix.count / max(rows, 1))
            let elements = layout.fromChannelMajor(encoded.elements)
            return WeightEncoding(storage: .float8(type: format == .e4m3 ? .float8e4m3fn : .float8e5m2, elements: elements,
                                                   scales: encoded.scales),
                                  shape: weight.shape, axis: perTensor ? nil : outputAxis, bits: 8, symmetric: true, codeRange: nil)
        case .power: return try baked("power-exponent (NUPES) grid")
        case .powerOfTwo: return try baked("power-of-two (DenseShift) grid")
        case .lookupTable: return try baked("k-means lookup table (SqueezeLLM)")
        case .split: return try baked("SplitQuant three-way split")
        case .stored:
            guard let stored, spec.matches(stored) else {
                throw QScopeError("\(spec) applies only to a weight the model stores in that format")
            }
            // The weight is the stored dequantized values: the codes come back exactly.
            let encoding = WeightEncoding(storage: .integer(type: stored.type, codes: [], scales: stored.scales,
                                                            zeroPoints: stored.isSymmetric ? nil : stored.zeroPoints.map { Int32($0) }),
                                          shape: weight.shape, axis: stored.axis, bits: stored.bits, symmetric: stored.isSymmetric,
                                          codeRange: nil)
            let codes = weight.values.indices.map { i -> Int32 in
                let c = encoding.channel(of: i)
                return Int32((weight.values[i] / stored.scales[c]).rounded(.toNearestOrEven)) + Int32(stored.zeroPoints[c])
            }
            return WeightEncoding(storage: .integer(type: stored.type, codes: codes, scales: stored.scales,
                                                    zeroPoints: stored.isSymmetric ? nil : stored.zeroPoints.map { Int32($0) }),
                                  shape: weight.shape, axis: stored.axis, bits: stored.bits, symmetric: stored.isSymmetric,
                                  codeRange: nil)
        }
    }

    /// The weight as DequantizeLinear (or the baked float tensor) yields it, tensor layout.
    public func dequantized() -> [Float] {
        switch storage {
        case .baked(let values, _): return values
        case .integer(_, let codes, let scales, let zeros):
            return codes.indices.map { i in
                let c = channel(of: i)
                return (Float(codes[i]) - Float(zeros?[c] ?? 0)) * scales[c]
            }
        case .float8(_, let elements, let scales):
            return elements.indices.map { elements[$0] * scales[channel(of: $0)] }
        }
    }

    /// The scale index of element `i` (tensor layout).
    func channel(of i: Int) -> Int {
        guard let axis else { return 0 }
        let inner = shape[(axis + 1)...].reduce(1, *)
        return (i / inner) % shape[axis]
    }
}
