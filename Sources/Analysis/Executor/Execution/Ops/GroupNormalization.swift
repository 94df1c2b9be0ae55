import Kernels

/// Which element of a row normalisation's scale and bias applies to element `column` of row `row`.
///
/// LayerNormalization's rows are the trailing dims (one scale value, or one per column);
/// InstanceNormalization and GroupNormalization normalise rows of n·G + g (sample n, group g) that
/// hold `channelsPerGroup` channels of `spatial` elements each, with one scale value per group
/// (GroupNormalization before opset 21) or per channel (InstanceNormalization, GroupNormalization 21).
enum NormalizationScaleLayout: Sendable, Equatable {
    case single
    case perColumn
    case perGroup(groups: Int)
    case perChannel(groups: Int, channelsPerGroup: Int, spatial: Int)

    @inline(__always)
    func index(row: Int, column: Int) -> Int {
        switch self {
        case .single: return 0
        case .perColumn: return column
        case .perGroup(let groups): return row % groups
        case .perChannel(let groups, let channelsPerGroup, let spatial): return (row % groups) * channelsPerGroup + column / spatial
        }
    }
}

/// InstanceNormalization and GroupNormalization on x of shape [N, C, D1, ...] (any rank ≥ 2):
/// each sample's channels are split into G groups of C/G channels (G = C for InstanceNormalization),
/// each group is normalised by its own mean and biased variance over its channels and spatial dims,
/// y = (x − μ)/√(σ² + ε)·γ + β, with γ and β per channel, or per group for GroupNormalization before
/// opset 21. Statistics are accumulated in float64, whatever `stash_type` asks (at least as precise).
/// A group of one element normalises to 0 (its variance is 0), so y = β there.
struct GroupNormOperator: Operator {
    let outputTypes: [ValueType]
    /// N·G rows of (C/G)·spatial elements, contiguous in x.
    let rows: Int, columns: Int
    let epsilon: Float
    let scaleLayout: NormalizationScaleLayout

    func forward(_ io: OperatorIO) {
        let x = io.input(0), scale = io.input(1), bias = io.input(2), y = io.output(0)
        let columns = columns
        Parallel.forEach(rows, threads: rows * columns >= 1 << 14 ? io.threads : 1) { row in
            let source = x + row * columns, target = y + row * columns
            var mean: Double = 0
            for i in 0..<columns { mean += Double(source[i]) }
            mean /= Double(max(columns, 1))
            var variance: Double = 0
            for i in 0..<columns { variance += (Double(source[i]) - mean) * (Double(source[i]) - mean) }
            variance /= Double(max(columns, 1))
            let inverse = 1 / (variance + Double(epsilon)).squareRoot()
            for i in 0..<columns {
                let k = scaleLayout.index(row: row, column: i)
                target[i] = Float((Double(source[i]) - mean) * inverse) * scale[k] + bias[k]
            }
        }
    }

    static func instanceNormalization(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        guard x.rank >= 2 else { throw c.failure("input \(x.shape) has no channel dim (expected [N, C, ...])") }
        let channels = x.shape[1]
        try checkParameters(c, count: channels, what: "one per channel (\(channels))")
        return try make(c, x: x, groups: channels, layout: .perChannel(groups: channels, channelsPerGroup: 1,
                                                                      spatial: Shapes.product(x.shape, 2..<x.rank)))
    }

    static func groupNormalization(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        guard x.rank >= 2 else { throw c.failure("input \(x.shape) has no channel dim (expected [N, C, ...])") }
        guard case .int(let groups)? = c.node.attributes["num_groups"] else { throw c.failure("attribute 'num_groups' is missing") }
        let channels = x.shape[1]
        guard groups > 0, channels % groups == 0 else {
            throw c.failure("num_groups \(groups) does not divide the \(channels) channels")
        }
        let stash = try c.int("stash_type", 1)
        guard [1, 10, 11, 16].contains(stash) else { throw c.failure("stash_type \(stash) is not a floating-point type") }
        let layout: NormalizationScaleLayout
        if c.opset >= 21 {
            try checkParameters(c, count: channels, what: "one per channel (\(channels)) from opset 21")
            layout = .perChannel(groups: groups, channelsPerGroup: channels / groups, spatial: Shapes.product(x.shape, 2..<x.rank))
        } else {
            try checkParameters(c, count: groups, what: "one per group (\(groups)) before opset 21")
            layout = .perGroup(groups: groups)
        }
        return try make(c, x: x, groups: groups, layout: layout)
    }

    private static func checkParameters(_ c: OperatorContext, count: Int, what: String) throws {
        for (index, name) in [(1, "scale"), (2, "bias")] {
            let type = try c.type(index)
            guard type.count == count, type.rank == 1 else {
                throw c.failure("\(name) has shape \(type.shape); it needs \(what)")
            }
        }
    }

    private static func make(_ c: OperatorContext, x: ValueType, groups: Int, layout: NormalizationScaleLayout) throws -> GroupNormOperator {
        let batch = x.shape[0]
        return GroupNormOperator(outputTypes: [x], rows: batch * groups, columns: batch * groups == 0 ? 0 : x.count / (batch * groups),
                                 epsilon: try c.float("epsilon", 1e-5), scaleLayout: layout)
    }
}
