import Kernels

// Ops that move or reinterpret data without arithmetic: Reshape, Flatten, Squeeze, Unsqueeze,
// Identity, Transpose, Concat, Split, Slice, Expand, Tile, Pad, Shape-derived constants (the
// index-driven gathers are in Indexing.swift).

/// Copies its only data input unchanged under a new shape (Reshape, Flatten, Squeeze, Unsqueeze,
/// Identity, Dropout at inference, and casts between float types).
struct CopyOperator: Operator {
    let outputTypes: [ValueType]

    func forward(_ io: OperatorIO) {
        let count = outputTypes[0].count
        if count > 0 { io.output(0).update(from: io.input(0), count: count) }
    }

    static func reshape(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let requested = try c.constant(1, "the target shape").ints
        let allowZero = try c.int("allowzero", 0) != 0
        var shape = requested.enumerated().map { i, d in d == 0 && !allowZero && i < input.rank ? input.shape[i] : d }
        let known = shape.filter { $0 != -1 }.reduce(1, *)
        if let inferred = shape.firstIndex(of: -1) {
            guard shape.filter({ $0 == -1 }).count == 1, known > 0, input.count % known == 0 else {
                throw c.failure("cannot reshape \(input.shape) to \(requested)")
            }
            shape[inferred] = input.count / known
        }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == input.count else {
            throw c.failure("cannot reshape \(input.shape) to \(requested)")
        }
        return CopyOperator(outputTypes: [ValueType(input.dataType, shape)])
    }

    static func flatten(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        var axis = try c.int("axis", 1)
        if axis < 0 { axis += input.rank }
        guard axis >= 0 && axis <= input.rank else { throw c.failure("axis \(axis) is out of range for rank \(input.rank)") }
        let outer = Shapes.product(input.shape, 0..<axis)
        return CopyOperator(outputTypes: [ValueType(input.dataType, [outer, input.count / max(outer, 1)])])
    }

    /// Squeeze axes come from the attribute before opset 13 and from input 1 since.
    static func squeeze(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let given = try c.has(1) ? c.constant(1, "the axes").ints : c.optionalInts("axes")
        let axes = try given.map { try Set($0.map { try c.axis($0, rank: input.rank) }) }
            ?? Set(input.shape.indices.filter { input.shape[$0] == 1 })
        for axis in axes where input.shape[axis] != 1 {
            throw c.failure("cannot squeeze axis \(axis) of size \(input.shape[axis])")
        }
        let shape = input.shape.indices.filter { !axes.contains($0) }.map { input.shape[$0] }
        return CopyOperator(outputTypes: [ValueType(input.dataType, shape)])
    }

    static func unsqueeze(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let given = try c.has(1) ? c.constant(1, "the axes").ints : c.optionalInts("axes")
        guard let given else { throw c.failure("no axes given") }
        let rank = input.rank + given.count
        let axes = Set(try given.map { try c.axis($0, rank: rank) })
        guard axes.count == given.count else { throw c.failure("repeated axes \(given)") }
        var shape: [Int] = []
        var next = input.shape.makeIterator()
        for d in 0..<rank { shape.append(axes.contains(d) ? 1 : next.next() ?? 1) }
        return CopyOperator(outputTypes: [ValueType(input.dataType, shape)])
    }

    static func identity(_ c: OperatorContext) throws -> Operator {
        CopyOperator(outputTypes: [try c.type(0)])
    }
}

/// Dropout at inference: the input unchanged and, when asked for, a mask of ones (nothing dropped).
/// Training mode with a non-zero ratio is random and is refused: from opset 12 the `training_mode`
/// input, before opset 7 the `is_test` attribute = 0 (opsets 7-11 have no training mode). The ratio
/// is an attribute before opset 12 and input 1 since. The mask is bool from opset 10, of x's type before.
struct DropoutOperator: Operator {
    let outputTypes: [ValueType]

    func forward(_ io: OperatorIO) {
        let count = outputTypes[0].count
        if count > 0 { io.output(0).update(from: io.input(0), count: count) }
        if outputTypes.count > 1 { io.output(1).update(repeating: 1, count: count) }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        var training = try c.optionalConstant(2, "training_mode")?.scalar ?? 0
        if try c.opset < 7 && c.int("is_test", 0) == 0 { training = 1 }
        let ratio = try c.optionalConstant(1, "ratio")?.scalar ?? c.float("ratio", 0.5)
        if training != 0 && ratio != 0 { throw c.failure("training-mode dropout (random) is not supported") }
        var types = [input]
        if c.node.outputs.count > 1 { types.append(ValueType(c.opset >= 10 ? .bool : input.dataType, input.shape)) }
        return DropoutOperator(outputTypes: types)
    }
}

/// A strided gather into the output: Transpose, Slice, Expand.
struct StridedCopyOperator: Operator {
    let outputTypes: [ValueType]
    let copy: StridedCopy

    func forward(_ io: OperatorIO) { copy.run(io.input(0), io.output(0)) }

    static func transpose(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let perm = try c.ints("perm", Array((0..<input.rank).reversed()))
        guard perm.count == input.rank, Set(perm) == Set(0..<input.rank) else {
            throw c.failure("perm \(perm) is not a permutation of \(input.rank) axes")
        }
        return TransposeOperator(outputTypes: [ValueType(input.dataType, perm.map { input.shape[$0] })],
                                 inputShape: input.shape, perm: perm)
    }

    /// Slice (opset 10+: starts, ends, axes, steps as inputs; opset < 10: attributes).
    static func slice(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let starts: [Int64], ends: [Int64]
        var axes: [Int]?, steps: [Int64]?
        if c.has(1) {
            starts = try c.constant(1, "starts").integerValues
            ends = try c.constant(2, "ends").integerValues
            axes = try c.optionalConstant(3, "axes")?.ints
            steps = try c.optionalConstant(4, "steps")?.integerValues
        } else {
            starts = try c.ints("starts", []).map(Int64.init)
            ends = try c.ints("ends", []).map(Int64.init)
            axes = try c.optionalInts("axes")
        }
        let axisList = try (axes ?? Array(0..<starts.count)).map { try c.axis($0, rank: input.rank) }
        guard starts.count == ends.count, axisList.count == starts.count, (steps?.count ?? starts.count) == starts.count else {
            throw c.failure("starts, ends, axes and steps differ in length")
        }
        var shape = input.shape
        let inputStrides = Shapes.strides(input.shape)
        var strides = inputStrides
        var offset = 0
        for (i, axis) in axisList.enumerated() {
            let dim = Int64(input.shape[axis])
            let step = steps?[i] ?? 1
            guard step != 0 else { throw c.failure("a step is 0") }
            var start = starts[i], end = ends[i]
            if start < 0 { start += dim }
            if end < 0 { end += dim }
            let count: Int64
            if step > 0 {
                start = min(max(start, 0), dim)
                end = min(max(end, 0), dim)
                count = end > start ? (end - start + step - 1) / step : 0
            } else {
                start = min(max(start, -1), dim - 1)
                end = min(max(end, -1), dim - 1)
                count = start > end ? (start - end - step - 1) / (-step) : 0
            }
            shape[axis] = Int(count)
            offset += Int(count > 0 ? start : 0) * inputStrides[axis]
            strides[axis] = inputStrides[axis] * Int(step)
        }
        return StridedCopyOperator(outputTypes: [ValueType(input.dataType, shape)],
                                   copy: StridedCopy(shape: shape, strides: strides, offset: offset))
    }

    static func expand(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let requested = try c.constant(1, "the shape").ints
        guard let shape = Shapes.broadcast(input.shape, requested) else {
            throw c.failure("cannot expand \(input.shape) to \(requested)")
        }
        return StridedCopyOperator(outputTypes: [ValueType(input.dataType, shape)],
                                   copy: StridedCopy(shape: shape, strides: Shapes.broadcastStrides(input.shape, to: shape)))
    }
}

/// Transpose by the blocked kernel (2-D tiles, merged axes).
struct TransposeOperator: Operator {
    let outputTypes: [ValueType]
    let inputShape: [Int]
    let perm: [Int]

    func forward(_ io: OperatorIO) {
        transpose(input: io.input(0), shape: inputShape, perm: perm, output: io.output(0), threads: io.threads)
    }
}

/// Concat: each input is a block of `outer` rows of width `widths[i]`.
struct ConcatOperator: Operator {
    let outputTypes: [ValueType]
    let outer: Int
    let widths: [Int]

    func forward(_ io: OperatorIO) {
        let total = widths.reduce(0, +)
        var column = 0
        for (i, width) in widths.enumerated() where width > 0 {
            let source = io.input(i)
            let out = io.output(0) + column
            for row in 0..<outer { (out + row * total).update(from: source + row * width, count: width) }
            column += width
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let types = try (0..<c.inputCount).map { try c.type($0) }
        guard let first = types.first else { throw c.failure("no inputs") }
        // `axis` is required from opset 4; Concat-1 defaulted it to 1.
        let axis = try c.axis(c.int("axis", c.opset < 4 ? 1 : 0), rank: first.rank)
        var shape = first.shape
        shape[axis] = 0
        for type in types {
            guard type.rank == first.rank,
                  (0..<first.rank).allSatisfy({ $0 == axis || type.shape[$0] == first.shape[$0] }) else {
                throw c.failure("inputs of shapes \(types.map(\.shape)) cannot be joined on axis \(axis)")
            }
            shape[axis] += type.shape[axis]
        }
        let inner = Shapes.product(first.shape, (axis + 1)..<first.rank)
        return ConcatOperator(outputTypes: [ValueType(first.dataType, shape)],
                              outer: Shapes.product(first.shape, 0..<axis),
                              widths: types.map { $0.shape[axis] * inner })
    }
}

/// Split into parts along an axis (sizes from input 1, the `split` attribute, or `num_outputs`).
struct SplitOperator: Operator {
    let outputTypes: [ValueType]
    let outer: Int
    let widths: [Int]

    func forward(_ io: OperatorIO) {
        let total = widths.reduce(0, +)
        var column = 0
        for (i, width) in widths.enumerated() {
            let out = io.output(i)
            let source = io.input(0) + column
            for row in 0..<outer where width > 0 { (out + row * width).update(from: source + row * total, count: width) }
            column += width
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let axis = try c.axis(c.int("axis", 0), rank: input.rank)
        let dim = input.shape[axis]
        let parts = c.node.outputs.count
        var sizes: [Int]
        if c.has(1) {
            sizes = try c.constant(1, "the split sizes").ints
        } else if let attribute = try c.optionalInts("split") {
            sizes = attribute
        } else {
            let n = try c.int("num_outputs", parts)
            let chunk = (dim + n - 1) / max(n, 1)
            sizes = (0..<n).map { min(chunk, max(dim - $0 * chunk, 0)) }
        }
        guard sizes.count == parts, sizes.reduce(0, +) == dim, sizes.allSatisfy({ $0 >= 0 }) else {
            throw c.failure("split sizes \(sizes) do not divide dim \(dim) into \(parts) outputs")
        }
        let inner = Shapes.product(input.shape, (axis + 1)..<input.rank)
        let types = sizes.map { size -> ValueType in
            var shape = input.shape
            shape[axis] = size
            return ValueType(input.dataType, shape)
        }
        return SplitOperator(outputTypes: types, outer: Shapes.product(input.shape, 0..<axis),
                             widths: sizes.map { $0 * inner })
    }
}

/// Tile: repeats the input along each axis. Output dim d (size r_d · n_d) is read as the pair
/// (repeat, position) [r_d, n_d] with input strides [0, s_d]: one strided copy, no per-element
/// index arithmetic.
struct TileOperator: Operator {
    let outputTypes: [ValueType]
    let inputShape: [Int]
    let copy: StridedCopy

    func forward(_ io: OperatorIO) { copy.run(io.input(0), io.output(0)) }

    static func make(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let repeats = try c.constant(1, "the repeats").ints
        guard repeats.count == input.rank, repeats.allSatisfy({ $0 >= 0 }) else {
            throw c.failure("repeats \(repeats) do not fit rank \(input.rank)")
        }
        let strides = Shapes.strides(input.shape)
        var shape: [Int] = [], viewStrides: [Int] = []
        for d in 0..<input.rank {
            shape += [repeats[d], input.shape[d]]
            viewStrides += [0, strides[d]]
        }
        return TileOperator(outputTypes: [ValueType(input.dataType, zip(input.shape, repeats).map(*))],
                            inputShape: input.shape, copy: StridedCopy(shape: shape, strides: viewStrides))
    }
}

/// Pad (constant, reflect, edge modes). Pads and the constant value are inputs from opset 11 and
/// attributes before (`pads` and `value`; `paddings` in opset 1); optional axes (input 3) from 18.
struct PadOperator: Operator {
    let outputTypes: [ValueType]
    let inputShape: [Int]
    let begins: [Int]
    let mode: String
    let value: Float

    func forward(_ io: OperatorIO) {
        let outShape = outputTypes[0].shape
        let inStrides = Shapes.strides(inputShape)
        let out = io.output(0), input = io.input(0)
        let rank = outShape.count
        for flat in 0..<outputTypes[0].count {
            var rest = flat, source = 0, inside = true
            for d in stride(from: rank - 1, through: 0, by: -1) {
                var i = rest % outShape[d] - begins[d]
                rest /= outShape[d]
                let n = inputShape[d]
                if i < 0 || i >= n {
                    switch mode {
                    case "edge": i = min(max(i, 0), n - 1)
                    case "reflect":
                        let period = max(2 * (n - 1), 1)
                        i = ((i % period) + period) % period
                        if i >= n { i = period - i }
                    default: inside = false
                    }
                }
                source += i * inStrides[d]
            }
            out[flat] = inside ? input[source] : value
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let input = try c.type(0)
        let pads = try c.has(1) ? c.constant(1, "the pads").ints : (c.optionalInts("pads") ?? c.ints("paddings", []))
        let value = try c.has(2) ? (c.constant(2, "the constant value").scalar ?? 0) : c.float("value", 0)
        var axes = Array(0..<input.rank)
        if c.has(3) { axes = try c.constant(3, "the axes").ints.map { try c.axis($0, rank: input.rank) } }
        guard pads.count == 2 * axes.count else { throw c.failure("pads \(pads) do not fit \(axes.count) axes") }
        var begins = [Int](repeating: 0, count: input.rank), shape = input.shape
        for (i, axis) in axes.enumerated() {
            begins[axis] = pads[i]
            shape[axis] += pads[i] + pads[i + axes.count]
        }
        let mode = try c.string("mode", "constant")
        guard ["constant", "edge", "reflect"].contains(mode) else { throw c.failure("mode '\(mode)' is not supported") }
        guard shape.allSatisfy({ $0 >= 0 }), mode == "constant" || input.shape.allSatisfy({ $0 > 0 }) else {
            throw c.failure("pads \(pads) do not fit shape \(input.shape)")
        }
        return PadOperator(outputTypes: [ValueType(input.dataType, shape)], inputShape: input.shape,
                           begins: begins, mode: mode, value: value)
    }
}

/// An operator whose output is known at compile time (Shape, Size, ConstantOfShape, Range, ...).
struct ConstantOperator: Operator {
    let value: Tensor
    var outputTypes: [ValueType] { [ValueType(value.dataType, value.shape)] }

    func forward(_ io: OperatorIO) {
        value.values.withUnsafeBufferPointer { io.output(0).update(from: $0.baseAddress!, count: $0.count) }
    }

    static func shape(_ c: OperatorContext) throws -> Operator {
        let shape = try c.shape(0)
        let rank = shape.count
        func clampAxis(_ a: Int) -> Int { min(max(a < 0 ? a + rank : a, 0), rank) }
        let start = clampAxis(try c.int("start", 0))
        let end = clampAxis(try c.int("end", rank))
        let dims = start < end ? Array(shape[start..<end]) : []
        return ConstantOperator(value: Tensor(shape: [dims.count], integers: dims.map(Int64.init)))
    }

    static func size(_ c: OperatorContext) throws -> Operator {
        ConstantOperator(value: Tensor(shape: [], integers: [Int64(try c.type(0).count)]))
    }

    static func constantOfShape(_ c: OperatorContext) throws -> Operator {
        let shape = try c.constant(0, "the shape").ints
        guard shape.allSatisfy({ $0 >= 0 }) else { throw c.failure("negative dim in \(shape)") }
        var fill = Tensor(shape: [1], values: [0])
        if case .tensor(let t)? = c.node.attributes["value"] { fill = t }
        let count = shape.reduce(1, *)
        if let integers = fill.integers {
            return ConstantOperator(value: Tensor(shape: shape, integers: Array(repeating: integers.first ?? 0, count: count),
                                                  dataType: fill.dataType))
        }
        return ConstantOperator(value: Tensor(shape: shape, values: Array(repeating: fill.values.first ?? 0, count: count),
                                              dataType: fill.dataType))
    }

    static func range(_ c: OperatorContext) throws -> Operator {
        let start = try c.constant(0, "start"), limit = try c.constant(1, "limit"), delta = try c.constant(2, "delta")
        if start.dataType.isInteger {
            let s = start.integerValues[0], l = limit.integerValues[0], d = delta.integerValues[0]
            guard d != 0 else { throw c.failure("delta is 0") }
            let n = max(Int((Double(l - s) / Double(d)).rounded(.up)), 0)
            return ConstantOperator(value: Tensor(shape: [n], integers: (0..<n).map { s + Int64($0) * d }, dataType: start.dataType))
        }
        let s = start.values[0], l = limit.values[0], d = delta.values[0]
        guard d != 0 else { throw c.failure("delta is 0") }
        let n = max(Int(((l - s) / d).rounded(.up)), 0)
        return ConstantOperator(value: Tensor(shape: [n], values: (0..<n).map { s + Float($0) * d }, dataType: start.dataType))
    }
}
