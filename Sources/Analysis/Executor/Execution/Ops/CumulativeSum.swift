import Kernels

/// CumSum along one axis (input 1, a constant scalar): y[k] = Σ_{j ≤ k} x[j], or Σ_{j < k} with
/// `exclusive`, counted from the end with `reverse`. Exporters emit it for position ids from an
/// attention mask. The running sum is float32, like ONNX Runtime's.
struct CumSumOperator: Operator {
    let outputTypes: [ValueType]
    let outer: Int, length: Int, inner: Int
    let exclusive: Bool
    let reverse: Bool

    func forward(_ io: OperatorIO) {
        Self.cumulativeSum(io.input(0), io.output(0), outer: outer, length: length, inner: inner,
                           exclusive: exclusive, reverse: reverse, accumulate: false)
    }

    /// `y (+)= cumsum(x)` over [outer, length, inner] rows; `accumulate` adds to `y` (reverse mode).
    static func cumulativeSum(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, outer: Int, length: Int, inner: Int,
                              exclusive: Bool, reverse: Bool, accumulate: Bool) {
        guard length > 0, inner > 0 else { return }
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                var sum: Float = 0
                for step in 0..<length {
                    let k = reverse ? length - 1 - step : step
                    let at = base + k * inner
                    let value = x[at]
                    if !exclusive { sum += value }
                    if accumulate { y[at] += sum } else { y[at] = sum }
                    if exclusive { sum += value }
                }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        guard let axisValue = try c.constant(1, "the axis").integerValues.first else { throw c.failure("the axis is empty") }
        let axis = try c.axis(Int(axisValue), rank: x.rank)
        return CumSumOperator(outputTypes: [x], outer: Shapes.product(x.shape, 0..<axis), length: x.rank == 0 ? 1 : x.shape[axis],
                              inner: Shapes.product(x.shape, (axis + 1)..<x.rank), exclusive: try c.int("exclusive", 0) != 0,
                              reverse: try c.int("reverse", 0) != 0)
    }
}
