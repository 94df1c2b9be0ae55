/// LpNormalization: y = x / ‖x‖_p along one axis (default −1), p = 1 (Σ|x|) or 2 (√Σx², default).
///
/// The rows are `outer` x `inner` vectors of `length` elements, element j of the row at `base` being
/// base + j·inner. A row whose norm is 0 gives zeros (as ONNX Runtime does), not NaN.
struct LpNormOperator: Operator {
    let outputTypes: [ValueType]
    let outer: Int, length: Int, inner: Int
    /// 1 or 2.
    let p: Int

    func forward(_ io: OperatorIO) {
        let x = io.input(0), y = io.output(0)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * length * inner + i
                let norm = LpNormOperator.norm(x + base, length: length, stride: inner, p: p)
                let inverse: Float = norm > 0 ? Float(1 / norm) : 0
                for j in 0..<length { y[base + j * inner] = x[base + j * inner] * inverse }
            }
        }
    }

    /// ‖row‖_p accumulated in float64.
    @inline(__always)
    static func norm(_ row: UnsafePointer<Float>, length: Int, stride: Int, p: Int) -> Double {
        var sum: Double = 0
        if p == 1 {
            for j in 0..<length { sum += Swift.abs(Double(row[j * stride])) }
            return sum
        }
        for j in 0..<length { sum += Double(row[j * stride]) * Double(row[j * stride]) }
        return sum.squareRoot()
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        guard x.rank >= 1 else { throw c.failure("input is a scalar; LpNormalization needs an axis") }
        let axis = try c.axis(c.int("axis", -1), rank: x.rank)
        let p = try c.int("p", 2)
        guard p == 1 || p == 2 else { throw c.failure("p = \(p) is not supported (ONNX allows 1 and 2)") }
        return LpNormOperator(outputTypes: [x], outer: Shapes.product(x.shape, 0..<axis), length: x.shape[axis],
                              inner: Shapes.product(x.shape, (axis + 1)..<x.rank), p: p)
    }
}
