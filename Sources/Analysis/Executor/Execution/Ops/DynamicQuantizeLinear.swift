/// ONNX `DynamicQuantizeLinear` (opset 11): uint8 quantization of a float tensor with a scale and zero
/// point computed from its own range, as dynamic quantization feeds MatMulInteger and ConvInteger.
///
/// Outputs `y` (uint8 codes, x's shape), `y_scale` (float32 scalar) and `y_zero_point` (uint8 scalar):
/// - the range is widened to include 0: `lo = min(min(x), 0)`, `hi = max(max(x), 0)`;
/// - `y_scale = (hi − lo) / 255` in float32; 1 when `hi == lo` (x all zero), as ONNX Runtime does,
///   where the ONNX formula would divide by zero;
/// - `y_zero_point = round_half_even(clamp(0 − lo / y_scale, 0, 255))`;
/// - `y = saturate(round_half_even(x / y_scale) + y_zero_point)` (float32 division).
/// NaN elements are skipped by the range and quantize to the zero point.
struct DynamicQuantizeLinearOperator: Operator {
    let outputTypes: [ValueType]

    func forward(_ io: OperatorIO) {
        let x = io.input(0), count = outputTypes[0].count
        var lo: Float = 0, hi: Float = 0
        for i in 0..<count where !x[i].isNaN {
            lo = min(lo, x[i])
            hi = max(hi, x[i])
        }
        let scale: Float = hi == lo ? 1 : (hi - lo) / 255
        let zero = min(max(0 - lo / scale, 0), 255).rounded(.toNearestOrEven)
        let y = io.output(0)
        for i in 0..<count {
            y[i] = LinearQuantizationOperator.quantize(x[i] / scale, zero: zero, .uint8, saturate: true)
        }
        io.output(1)[0] = scale
        io.output(2)[0] = zero
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        guard x.dataType == .float32 else { throw c.failure("input must be float32, not \(x.dataType)") }
        return DynamicQuantizeLinearOperator(outputTypes: [ValueType(.uint8, x.shape), ValueType(.float32, []),
                                                           ValueType(.uint8, [])])
    }
}
