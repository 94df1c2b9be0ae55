/// TopK: the k largest (or smallest, `largest` = 0) elements along `axis` (default −1) and their
/// indices (int64), in order, ties broken by the lower index; NaN counts as larger than any number.
/// k is the `k` attribute in opset 1 and the constant 1-element input K from opset 10; `largest` and
/// `sorted` exist from opset 11. With `sorted` = 0 ONNX leaves the order open: qscope still sorts.
struct TopKOperator: Operator {
    let outputTypes: [ValueType]
    let outer: Int, length: Int, inner: Int
    let k: Int
    let largest: Bool

    func forward(_ io: OperatorIO) {
        let x = io.input(0), values = io.output(0), indices = io.output(1)
        let (length, inner, k, largest) = (length, inner, k, largest)
        guard length > 0 else { return }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: length) { buffer in
            var order = buffer
            for o in 0..<outer {
                for i in 0..<inner {
                    let base = o * length * inner + i
                    for j in 0..<length { order[j] = j }
                    // A strict total order (NaN above every number, ties by index), so the sort is well defined.
                    order.sort { a, b in
                        let va = x[base + a * inner], vb = x[base + b * inner]
                        if va.isNaN || vb.isNaN {
                            if va.isNaN != vb.isNaN { return va.isNaN == largest }
                            return a < b
                        }
                        if va != vb { return largest ? va > vb : va < vb }
                        return a < b
                    }
                    let target = o * k * inner + i
                    for j in 0..<k {
                        values[target + j * inner] = x[base + order[j] * inner]
                        indices[target + j * inner] = Float(order[j])
                    }
                }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        guard x.rank >= 1 else { throw c.failure("input is a scalar; TopK needs an axis") }
        let axis = try c.axis(c.int("axis", -1), rank: x.rank)
        let k: Int
        if c.opset >= 10 || c.has(1) {
            let given = try c.constant(1, "K").integerValues
            guard given.count == 1 else { throw c.failure("K must hold one value, not \(given.count)") }
            k = Int(given[0])
        } else {
            guard case .int(let attribute)? = c.node.attributes["k"] else { throw c.failure("attribute 'k' is missing") }
            k = attribute
        }
        guard k >= 0, k <= x.shape[axis] else { throw c.failure("k = \(k) is outside 0...\(x.shape[axis]) (the size of axis \(axis))") }
        var shape = x.shape
        shape[axis] = k
        return TopKOperator(outputTypes: [ValueType(x.dataType, shape), ValueType(.int64, shape)],
                            outer: Shapes.product(x.shape, 0..<axis), length: x.shape[axis],
                            inner: Shapes.product(x.shape, (axis + 1)..<x.rank), k: k, largest: try c.int("largest", 1) != 0)
    }
}
