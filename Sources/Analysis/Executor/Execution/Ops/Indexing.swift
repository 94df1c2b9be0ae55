// Index-driven gathers: Gather, GatherElements, GatherND. Indices are int64 values stored as exact
// floats; negative ones count from the end of their axis.
//
// An index out of range is an error, never an out-of-bounds read: when the indices are constant the
// builder rejects them; at run time (token ids at or above the vocabulary size) the operator writes
// 0 for the element and records a fault that `CompiledGraph.takeRuntimeFault` reports after the pass.

/// An operator that reads each output element from one data element chosen by its indices (input
/// 1): its reverse mode scatters adjoints back through the same map (`GatherDerivative`).
protocol IndexedGather: Operator {
    /// Element count of the data input (input 0).
    var dataCount: Int { get }
    /// Writes, for each output element, the flat data element it reads, or −1 where the index is out
    /// of range (the forward wrote 0 there).
    func sourceMap(indices: UnsafePointer<Float>, into map: UnsafeMutablePointer<Int32>)
}

/// Gather along an axis: output = data.shape[..<axis] + indices.shape + data.shape[(axis+1)...].
struct GatherOperator: IndexedGather {
    let outputTypes: [ValueType]
    let axis: Int
    let outer: Int
    let axisSize: Int
    let inner: Int
    let indexCount: Int

    var dataCount: Int { outer * axisSize * inner }

    func forward(_ io: OperatorIO) {
        let data = io.input(0), indices = io.input(1), out = io.output(0)
        for j in 0..<indexCount {
            guard let index = resolveIndex(indices[j], size: axisSize) else {
                io.reportIndexOutOfRange(reportedIndex(indices[j]), axis: axis, size: axisSize)
                for o in 0..<outer { (out + (o * indexCount + j) * inner).update(repeating: 0, count: inner) }
                continue
            }
            for o in 0..<outer {
                (out + (o * indexCount + j) * inner).update(from: data + (o * axisSize + index) * inner, count: inner)
            }
        }
    }

    func sourceMap(indices: UnsafePointer<Float>, into map: UnsafeMutablePointer<Int32>) {
        for o in 0..<outer {
            for j in 0..<indexCount {
                let target = map + (o * indexCount + j) * inner
                guard let index = resolveIndex(indices[j], size: axisSize) else {
                    target.update(repeating: -1, count: inner)
                    continue
                }
                let base = (o * axisSize + index) * inner
                for i in 0..<inner { target[i] = Int32(base + i) }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let data = try c.type(0)
        let indices = try c.type(1)
        guard data.rank >= 1 else { throw c.failure("data must have rank >= 1") }
        let axis = try c.axis(c.int("axis", 0), rank: data.rank)
        if let constant = c.constants.count > 1 ? c.constants[1] : nil {
            try checkConstantIndices(c, constant, axis: axis, size: data.shape[axis])
        }
        let shape = Array(data.shape[..<axis]) + indices.shape + Array(data.shape[(axis + 1)...])
        return GatherOperator(outputTypes: [ValueType(data.dataType, shape)], axis: axis,
                              outer: Shapes.product(data.shape, 0..<axis), axisSize: data.shape[axis],
                              inner: Shapes.product(data.shape, (axis + 1)..<data.rank), indexCount: indices.count)
    }
}

/// Rejects a constant index tensor with an entry outside [−size, size).
func checkConstantIndices(_ c: OperatorContext, _ indices: Tensor, axis: Int, size: Int) throws {
    let limit = Int64(size)
    if let bad = indices.integerValues.first(where: { $0 < -limit || $0 >= limit }) {
        throw c.failure("index \(bad) is out of range for axis \(axis) of size \(size)")
    }
}

/// GatherElements: output[i] = data[i with i[axis] replaced by indices[i]]; output shape = indices
/// shape (same rank as data, each dim at most data's off the axis).
struct GatherElementsOperator: IndexedGather {
    let outputTypes: [ValueType]
    let axis: Int
    let axisSize: Int
    let axisStride: Int
    /// Data strides over the indices' shape, 0 on the gather axis, as the one operand of the loop
    /// (stored nested so that a pass builds no array).
    let loopStrides: [[Int]]
    let dataCount: Int

    func forward(_ io: OperatorIO) {
        let data = io.input(0), indices = io.input(1), out = io.output(0)
        BroadcastLoop.forEach(shape: outputTypes[0].shape, strides: loopStrides) { i, offsets in
            guard let index = resolveIndex(indices[i], size: axisSize) else {
                io.reportIndexOutOfRange(reportedIndex(indices[i]), axis: axis, size: axisSize)
                out[i] = 0
                return
            }
            out[i] = data[offsets[0] + index * axisStride]
        }
    }

    func sourceMap(indices: UnsafePointer<Float>, into map: UnsafeMutablePointer<Int32>) {
        BroadcastLoop.forEach(shape: outputTypes[0].shape, strides: loopStrides) { i, offsets in
            map[i] = resolveIndex(indices[i], size: axisSize).map { Int32(offsets[0] + $0 * axisStride) } ?? -1
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let data = try c.type(0), indices = try c.type(1)
        guard data.rank >= 1, indices.rank == data.rank else {
            throw c.failure("indices of rank \(indices.rank) do not match data of rank \(data.rank)")
        }
        let axis = try c.axis(c.int("axis", 0), rank: data.rank)
        for d in 0..<data.rank where d != axis && indices.shape[d] > data.shape[d] {
            throw c.failure("indices shape \(indices.shape) exceeds data shape \(data.shape) off the axis")
        }
        if let constant = c.constants.count > 1 ? c.constants[1] : nil {
            try checkConstantIndices(c, constant, axis: axis, size: data.shape[axis])
        }
        var strides = Shapes.strides(data.shape)
        let axisStride = strides[axis]
        strides[axis] = 0
        return GatherElementsOperator(outputTypes: [ValueType(data.dataType, indices.shape)], axis: axis,
                                      axisSize: data.shape[axis], axisStride: axisStride, loopStrides: [strides],
                                      dataCount: data.count)
    }
}

/// GatherND with `batch_dims` b: indices [B..., T..., k] pick, per batch position, slices of data
/// [B..., D_b ... D_{b+k−1}, S...]; output = indices.shape.dropLast() + S.
struct GatherNDOperator: IndexedGather {
    let outputTypes: [ValueType]
    let batchDims: Int
    /// Positions in the shared leading batch dims.
    let batchCount: Int
    /// Index tuples per batch position.
    let tuples: Int
    /// Length of each index tuple.
    let depth: Int
    /// Sizes and element strides (within one batch position) of the indexed data dims.
    let indexedSizes: [Int]
    let indexedStrides: [Int]
    /// Elements of one gathered slice.
    let slice: Int
    /// Data elements per batch position.
    let batchStride: Int
    let dataCount: Int

    /// The data offset of tuple `t` of batch position `b`, or nil (after reporting) when an index is
    /// out of range.
    @inline(__always)
    private func offset(_ indices: UnsafePointer<Float>, batch b: Int, tuple t: Int, io: OperatorIO?) -> Int? {
        let tuple = indices + (b * tuples + t) * depth
        var offset = b * batchStride
        for j in 0..<depth {
            guard let index = resolveIndex(tuple[j], size: indexedSizes[j]) else {
                io?.reportIndexOutOfRange(reportedIndex(tuple[j]), axis: batchDims + j, size: indexedSizes[j])
                return nil
            }
            offset += index * indexedStrides[j]
        }
        return offset
    }

    func forward(_ io: OperatorIO) {
        let data = io.input(0), indices = io.input(1), out = io.output(0)
        for b in 0..<batchCount {
            for t in 0..<tuples {
                let target = out + (b * tuples + t) * slice
                if let source = offset(indices, batch: b, tuple: t, io: io) {
                    target.update(from: data + source, count: slice)
                } else {
                    target.update(repeating: 0, count: slice)
                }
            }
        }
    }

    func sourceMap(indices: UnsafePointer<Float>, into map: UnsafeMutablePointer<Int32>) {
        for b in 0..<batchCount {
            for t in 0..<tuples {
                let target = map + (b * tuples + t) * slice
                guard let source = offset(indices, batch: b, tuple: t, io: nil) else {
                    target.update(repeating: -1, count: slice)
                    continue
                }
                for i in 0..<slice { target[i] = Int32(source + i) }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let data = try c.type(0), indices = try c.type(1)
        let b = try c.int("batch_dims", 0)
        guard indices.rank >= 1, data.rank >= 1, b >= 0, b < min(data.rank, indices.rank) else {
            throw c.failure("batch_dims \(b) does not fit data rank \(data.rank) and indices rank \(indices.rank)")
        }
        guard Array(data.shape[..<b]) == Array(indices.shape[..<b]) else {
            throw c.failure("the batch dims of data \(data.shape) and indices \(indices.shape) differ")
        }
        let depth = indices.shape[indices.rank - 1]
        guard depth >= 1, depth <= data.rank - b else {
            throw c.failure("index tuples of length \(depth) do not fit data of rank \(data.rank) with \(b) batch dims")
        }
        let strides = Shapes.strides(data.shape)
        let sizes = Array(data.shape[b..<(b + depth)])
        if let constant = c.constants.count > 1 ? c.constants[1] : nil {
            for (k, value) in constant.integerValues.enumerated() {
                let size = Int64(sizes[k % depth])
                if value < -size || value >= size {
                    throw c.failure("index \(value) is out of range for axis \(b + k % depth) of size \(size)")
                }
            }
        }
        let batchCount = Shapes.product(data.shape, 0..<b)
        let shape = Array(indices.shape.dropLast()) + Array(data.shape[(b + depth)...])
        return GatherNDOperator(outputTypes: [ValueType(data.dataType, shape)], batchDims: b, batchCount: batchCount,
                                tuples: Shapes.product(indices.shape, b..<(indices.rank - 1)), depth: depth,
                                indexedSizes: sizes, indexedStrides: Array(strides[b..<(b + depth)]),
                                slice: Shapes.product(data.shape, (b + depth)..<data.rank),
                                batchStride: Shapes.product(data.shape, b..<data.rank), dataCount: data.count)
    }
}
