import Kernels

/// ONNX `QuantizeLinear` and `DequantizeLinear` (opsets 10–21), per tensor or per axis.
///
/// - Quantize: `y = saturate(round_half_even(x / scale) + zero_point)` for the integer outputs
///   (uint8, int8, uint16, int16, uint4, int4), `y = saturate(round_fp8(x / scale))` for float8e4m3fn
///   and float8e5m2 (`saturate=0`: values beyond the format's maximum become NaN for E4M3FN, ±Inf for
///   E5M2). The output type is the zero point's; without one, `output_dtype` (opset 21) or uint8.
/// - Dequantize: `y = (x − zero_point)·scale`, float32 output.
///
/// Granularity follows the scale's shape: one element = per tensor; a 1-D scale of length
/// `x.shape[axis]` = per axis (`axis` default 1, negative counts from the end). Blocked quantization
/// (`block_size` > 0, opset 21) is rejected with an error naming the node. Scale and zero point may be
/// run-time values; like every value they are read as float32 (codes are exact small integers).
/// Arithmetic is float32 division, as ONNX Runtime's reference kernels do.
package struct LinearQuantizationOperator: Operator {
    enum Direction: Sendable { case quantize(DataType), dequantize }

    package let outputTypes: [ValueType]
    let direction: Direction
    /// Elements before, along and after the quantization axis (per tensor: channels = 1).
    let outer: Int
    let channels: Int
    let inner: Int
    let hasZeroPoint: Bool
    let saturate: Bool

    package func forward(_ io: OperatorIO) {
        let x = io.input(0), scales = io.input(1), y = io.output(0)
        let zeros = hasZeroPoint ? io.optionalInput(2) : nil
        for o in 0..<outer {
            for c in 0..<channels {
                let scale = scales[c]
                let zero = zeros?[c] ?? 0
                let start = (o * channels + c) * inner
                switch direction {
                case .dequantize:
                    for i in start..<(start + inner) { y[i] = (x[i] - zero) * scale }
                case .quantize(let type):
                    for i in start..<(start + inner) { y[i] = Self.quantize(x[i] / scale, zero: zero, type, saturate: saturate) }
                }
            }
        }
    }

    /// One quantized value of `type` from the scaled input `v = x / scale`.
    static func quantize(_ v: Float, zero: Float, _ type: DataType, saturate: Bool) -> Float {
        switch type {
        case .float8e4m3fn, .float8e5m2:
            let format: FloatFormat = type == .float8e4m3fn ? .e4m3 : .e5m2
            if !saturate, !v.isNaN, abs(v) > format.maxValue {
                return type == .float8e4m3fn ? .nan : (v < 0 ? -.infinity : .infinity)
            }
            return format.round(v)
        default:
            let (low, high) = range(type)
            let q = v.rounded(.toNearestOrEven) + zero
            if q.isNaN { return zero }
            return min(max(q, low), high)
        }
    }

    /// Saturation range of an integer output type.
    package static func range(_ type: DataType) -> (Float, Float) {
        switch type {
        case .int8: return (-128, 127)
        case .uint16: return (0, 65535)
        case .int16: return (-32768, 32767)
        case .int4: return (-8, 7)
        case .uint4: return (0, 15)
        default: return (0, 255)
        }
    }

    static let quantizedTypes: Set<DataType> = [.uint8, .int8, .uint16, .int16, .uint4, .int4, .float8e4m3fn, .float8e5m2]

    static func quantizeLinear(_ c: OperatorContext) throws -> Operator {
        var type = DataType.uint8
        if c.has(2) {
            type = try c.type(2).dataType
        } else if let code = c.node.attributes["output_dtype"], case .int(let raw) = code, raw != 0 {
            guard let t = DataType(rawValue: raw) else { throw c.failure("output_dtype \(raw) is not a type qscope knows") }
            type = t
        }
        return try make(c, direction: .quantize(type))
    }

    static func dequantizeLinear(_ c: OperatorContext) throws -> Operator {
        try make(c, direction: .dequantize)
    }

    private static func make(_ c: OperatorContext, direction: Direction) throws -> Operator {
        let x = try c.type(0)
        let scale = try c.type(1)
        if try c.int("block_size", 0) != 0 {
            throw c.failure("blocked quantization (block_size) is not supported; use per-tensor or per-axis scales")
        }
        let quantizedType: DataType
        switch direction {
        case .quantize(let t): quantizedType = t
        case .dequantize: quantizedType = x.dataType
        }
        guard quantizedTypes.contains(quantizedType) || (quantizedType == .int32 && direction.isDequantize) else {
            throw c.failure("quantized type \(quantizedType) is not supported (uint8, int8, uint16, int16, uint4, int4, float8e4m3fn, float8e5m2)")
        }
        var (outer, channels, inner) = (1, 1, x.count)
        if scale.count != 1 {
            let axis = try c.axis(try c.int("axis", 1), rank: x.rank)
            guard scale.rank == 1, scale.shape[0] == x.shape[axis] else {
                throw c.failure("scale of shape \(scale.shape) is neither a scalar nor 1-D of length \(x.shape[axis]) (axis \(axis) of \(x.shape))")
            }
            outer = x.shape[..<axis].reduce(1, *)
            channels = x.shape[axis]
            inner = x.shape[(axis + 1)...].reduce(1, *)
        }
        if c.has(2) {
            let zero = try c.type(2)
            guard zero.count == scale.count else {
                throw c.failure("zero point of shape \(zero.shape) does not match the scale's \(scale.shape)")
            }
        }
        let saturate = try c.int("saturate", 1) != 0
        let output = direction.isDequantize ? ValueType(.float32, x.shape) : ValueType(quantizedType, x.shape)
        return LinearQuantizationOperator(outputTypes: [output], direction: direction, outer: outer, channels: channels,
                                          inner: inner, hasZeroPoint: c.has(2), saturate: saturate)
    }
}

extension LinearQuantizationOperator.Direction {
    var isDequantize: Bool {
        if case .dequantize = self { return true }
        return false
    }
}
