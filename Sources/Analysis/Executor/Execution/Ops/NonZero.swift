/// NonZero: the indices of the non-zero elements of x, as int64 [rank, count] in row-major order.
///
/// Its output's shape depends on the values of x, and a compiled graph has fixed shapes: qscope
/// runs NonZero only on a constant input (exporters emit it in shape computations, which fold), and
/// refuses a run-time input with an error naming the node.
enum NonZeroOperator {
    static func make(_ c: OperatorContext) throws -> Operator {
        let type = try c.type(0)
        guard c.constants.first.flatMap({ $0 }) != nil else {
            throw c.failure("its output shape depends on the run-time values of its input; qscope runs NonZero only when "
                + "the input is constant (a compiled graph has fixed shapes)")
        }
        let x = try c.constant(0, "the input")
        let values = x.values
        let strides = Shapes.strides(type.shape)
        let nonZero = values.indices.filter { values[$0] != 0 }
        var indices = [Int64](repeating: 0, count: type.rank * nonZero.count)
        for (column, flat) in nonZero.enumerated() {
            var rest = flat
            for d in 0..<type.rank {
                indices[d * nonZero.count + column] = Int64(rest / strides[d])
                rest %= strides[d]
            }
        }
        return ConstantOperator(value: Tensor(shape: [type.rank, nonZero.count], integers: indices))
    }
}
