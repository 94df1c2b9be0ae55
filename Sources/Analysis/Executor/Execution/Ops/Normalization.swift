import Kernels

/// Softmax and LogSoftmax. From opset 13 over one axis (default −1); before 13 the input is coerced to
/// 2-D at `axis` (default 1) and normalised over the flattened trailing dims.
struct SoftmaxOperator: Operator {
    let outputTypes: [ValueType]
    let outer: Int, length: Int, inner: Int
    let logarithmic: Bool

    func forward(_ io: OperatorIO) {
        if logarithmic {
            logSoftmax(input: io.input(0), output: io.output(0), outer: outer, axisLength: length, inner: inner, threads: io.threads)
        } else {
            softmax(input: io.input(0), output: io.output(0), outer: outer, axisLength: length, inner: inner, threads: io.threads)
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        let logarithmic = c.node.opType == "LogSoftmax"
        if c.opset < 13 {
            let axis = try c.axis(c.int("axis", 1), rank: x.rank)
            return SoftmaxOperator(outputTypes: [x], outer: Shapes.product(x.shape, 0..<axis),
                                   length: Shapes.product(x.shape, axis..<x.rank), inner: 1, logarithmic: logarithmic)
        }
        let axis = try c.axis(c.int("axis", -1), rank: x.rank)
        return SoftmaxOperator(outputTypes: [x], outer: Shapes.product(x.shape, 0..<axis), length: x.rank == 0 ? 1 : x.shape[axis],
                               inner: Shapes.product(x.shape, (axis + 1)..<x.rank), logarithmic: logarithmic)
    }
}

/// LayerNormalization (opset 17): normalises over dims `axis`…end; scale and optional bias broadcast
/// over those dims. The optional Mean and InvStdDev outputs are computed when the node names them.
struct LayerNormOperator: Operator {
    let outputTypes: [ValueType]
    let rows: Int, columns: Int
    let epsilon: Float
    let scaleIsFull: Bool
    let biasIsFull: Bool
    let statistics: Bool

    func forward(_ io: OperatorIO) {
        let x = io.input(0), y = io.output(0)
        let scale = io.input(1), bias = io.optionalInput(2)
        if scaleIsFull && (bias == nil || biasIsFull) && !statistics {
            layerNorm(input: x, output: y, rows: rows, cols: columns, scale: scale, bias: bias, epsilon: epsilon, threads: io.threads)
            return
        }
        for r in 0..<rows {
            let row = x + r * columns
            var mean: Double = 0
            for i in 0..<columns { mean += Double(row[i]) }
            mean /= Double(columns)
            var variance: Double = 0
            for i in 0..<columns { variance += (Double(row[i]) - mean) * (Double(row[i]) - mean) }
            variance /= Double(columns)
            let inv = 1 / (variance + Double(epsilon)).squareRoot()
            for i in 0..<columns {
                let s = scaleIsFull ? scale[i] : scale[0]
                let b = bias.map { biasIsFull ? $0[i] : $0[0] } ?? 0
                y[r * columns + i] = Float((Double(row[i]) - mean) * inv) * s + b
            }
            if statistics && outputTypes.count > 2 {
                io.output(1)[r] = Float(mean)
                io.output(2)[r] = Float(inv)
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        let axis = try c.axis(c.int("axis", -1), rank: x.rank)
        let columns = Shapes.product(x.shape, axis..<x.rank)
        let scaleCount = try c.type(1).count
        let biasCount = c.has(2) ? try c.type(2).count : columns
        guard scaleCount == columns || scaleCount == 1, biasCount == columns || biasCount == 1 else {
            throw c.failure("scale/bias do not match the normalised size \(columns)")
        }
        let statShape = Array(x.shape[..<axis]) + Array(repeating: 1, count: x.rank - axis)
        let wantsStatistics = c.node.outputs.count > 1
        var types = [x]
        if wantsStatistics {
            types += [ValueType(.float32, statShape), ValueType(.float32, statShape)]
        }
        return LayerNormOperator(outputTypes: types, rows: Shapes.product(x.shape, 0..<axis), columns: columns,
                                 epsilon: try c.float("epsilon", 1e-5), scaleIsFull: scaleCount == columns,
                                 biasIsFull: biasCount == columns, statistics: wantsStatistics)
    }
}

/// PRelu: `x < 0 ? slope·x : x`, the slope broadcast to x.
struct PReluOperator: Operator {
    let outputTypes: [ValueType]
    let slopeStrides: [Int]

    func forward(_ io: OperatorIO) {
        let x = io.input(0), slope = io.input(1), y = io.output(0)
        BroadcastLoop.forEach(shape: outputTypes[0].shape, strides: [Shapes.strides(outputTypes[0].shape), slopeStrides]) { i, o in
            let v = x[o[0]]
            y[i] = v < 0 ? slope[o[1]] * v : v
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0), slope = try c.shape(1)
        guard Shapes.broadcast(x.shape, slope) == x.shape else { throw c.failure("slope \(slope) does not broadcast to \(x.shape)") }
        return PReluOperator(outputTypes: [x], slopeStrides: Shapes.broadcastStrides(slope, to: x.shape))
    }
}
