import Foundation
import Kernels

/// ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp over any set of axes.
///
/// Axes come from the attribute, or from input 1 (ReduceSum from opset 13, the others from 18).
/// Contiguous runs of reduced axes are reduced in one pass over a [outer, reduce, inner] view; other
/// sets of axes are first gathered by a transpose into that form.
struct ReduceOperator: Operator {
    /// A kernel reduction, or one of the two that compose a kernel reduction with a log.
    enum Kind: Sendable {
        case kernel(ReduceOp)
        /// log(Σx)
        case logSum
        /// m + log(Σ e^(x − m)) with m the max, which cannot overflow.
        case logSumExp
    }

    static let kinds: [String: Kind] = [
        "ReduceSum": .kernel(.sum), "ReduceMean": .kernel(.mean), "ReduceMax": .kernel(.max),
        "ReduceMin": .kernel(.min), "ReduceProd": .kernel(.prod), "ReduceL1": .kernel(.l1), "ReduceL2": .kernel(.l2),
        "ReduceSumSquare": .kernel(.sumSquare), "ReduceLogSum": .logSum, "ReduceLogSumExp": .logSumExp,
    ]

    let outputTypes: [ValueType]
    let kind: Kind
    let outer: Int, length: Int, inner: Int
    /// Non-nil when the reduced axes are not contiguous: first permute them to the end.
    let gather: StridedCopy?
    let inputCount: Int

    var workspaceCount: Int { gather == nil ? 0 : inputCount }

    func forward(_ io: OperatorIO) {
        var source = io.input(0)
        if let gather {
            gather.run(source, io.workspace)
            source = UnsafePointer(io.workspace)
        }
        let out = io.output(0)
        switch kind {
        case .kernel(let op):
            reduce(op, input: source, output: out, outer: outer, reduceLength: length, inner: inner, threads: io.threads)
        case .logSum:
            reduce(.sum, input: source, output: out, outer: outer, reduceLength: length, inner: inner, threads: io.threads)
            unary(.log, out, count: outer * inner, threads: 1)
        case .logSumExp:
            for o in 0..<outer {
                for i in 0..<inner {
                    var m = -Float.infinity
                    for k in 0..<length { m = max(m, source[(o * length + k) * inner + i]) }
                    var sum: Double = 0
                    for k in 0..<length { sum += Double(expf(source[(o * length + k) * inner + i] - m)) }
                    out[o * inner + i] = m.isInfinite ? m : m + Float(log(sum))
                }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        let kind = kinds[c.node.opType]!
        var axes: [Int]? = try c.optionalInts("axes")
        if c.has(1) { axes = try c.constant(1, "the axes").ints }
        let keepDims = try c.int("keepdims", 1) != 0
        let noopWithEmpty = try c.int("noop_with_empty_axes", 0) != 0
        var reduced: Set<Int>
        if let axes, !axes.isEmpty {
            reduced = Set(try axes.map { try c.axis($0, rank: x.rank) })
        } else if noopWithEmpty {
            return CopyOperator(outputTypes: [x])
        } else {
            reduced = Set(0..<x.rank)
        }
        let kept = (0..<x.rank).filter { !reduced.contains($0) }
        let outShape = keepDims ? x.shape.indices.map { reduced.contains($0) ? 1 : x.shape[$0] } : kept.map { x.shape[$0] }
        let outType = ValueType(x.dataType, outShape)
        let sortedAxes = reduced.sorted()
        let contiguous = sortedAxes.isEmpty || sortedAxes.last! - sortedAxes.first! + 1 == sortedAxes.count
        if contiguous, let first = sortedAxes.first {
            return ReduceOperator(outputTypes: [outType], kind: kind, outer: Shapes.product(x.shape, 0..<first),
                                  length: Shapes.product(x.shape, first..<(sortedAxes.last! + 1)),
                                  inner: Shapes.product(x.shape, (sortedAxes.last! + 1)..<x.rank), gather: nil, inputCount: x.count)
        }
        let perm = kept + sortedAxes
        let strides = Shapes.strides(x.shape)
        let copy = StridedCopy(shape: perm.map { x.shape[$0] }, strides: perm.map { strides[$0] })
        return ReduceOperator(outputTypes: [outType], kind: kind, outer: kept.reduce(1) { $0 * x.shape[$1] },
                              length: sortedAxes.reduce(1) { $0 * x.shape[$1] }, inner: 1, gather: copy, inputCount: x.count)
    }
}

/// ArgMax / ArgMin along one axis (`keepdims`, `select_last_index`); indices as int64 values.
struct ArgExtremumOperator: Operator {
    let outputTypes: [ValueType]
    let outer: Int, length: Int, inner: Int
    let isMax: Bool
    let lastIndex: Bool

    func forward(_ io: OperatorIO) {
        let x = io.input(0), y = io.output(0)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = 0
                var bestValue = x[o * length * inner + i]
                for k in 1..<max(length, 1) {
                    let v = x[(o * length + k) * inner + i]
                    let better = isMax ? (lastIndex ? v >= bestValue : v > bestValue) : (lastIndex ? v <= bestValue : v < bestValue)
                    if better {
                        best = k
                        bestValue = v
                    }
                }
                y[o * inner + i] = Float(best)
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        let axis = try c.axis(c.int("axis", 0), rank: x.rank)
        let keepDims = try c.int("keepdims", 1) != 0
        var shape = x.shape
        if keepDims { shape[axis] = 1 } else { shape.remove(at: axis) }
        return ArgExtremumOperator(outputTypes: [ValueType(.int64, shape)], outer: Shapes.product(x.shape, 0..<axis),
                                   length: x.shape[axis], inner: Shapes.product(x.shape, (axis + 1)..<x.rank),
                                   isMax: c.node.opType == "ArgMax", lastIndex: try c.int("select_last_index", 0) != 0)
    }
}
