/// Trilu: keeps the upper (`upper` = 1, the default) or lower triangle of the last two dims, relative
/// to diagonal k (input 1, a constant scalar, default 0), and writes 0 elsewhere. Upper keeps
/// column − row ≥ k, lower keeps column − row ≤ k. Exporters emit it for causal masks.
struct TriluOperator: Operator {
    let outputTypes: [ValueType]
    let rows: Int, columns: Int
    let k: Int
    let upper: Bool

    /// Whether element (row, column) is kept.
    @inline(__always) func keeps(row: Int, column: Int) -> Bool {
        upper ? column - row >= k : column - row <= k
    }

    func forward(_ io: OperatorIO) {
        let x = io.input(0), y = io.output(0)
        let matrices = outputTypes[0].count / max(rows * columns, 1)
        for m in 0..<matrices {
            for r in 0..<rows {
                let row = m * rows * columns + r * columns
                // Kept columns form one contiguous run: [max(r + k, 0), columns) or [0, min(r + k + 1, columns)).
                let keptStart = upper ? min(max(r + k, 0), columns) : 0
                let keptEnd = upper ? columns : min(max(r + k + 1, 0), columns)
                (y + row).update(repeating: 0, count: columns)
                if keptEnd > keptStart { (y + row + keptStart).update(from: x + row + keptStart, count: keptEnd - keptStart) }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        guard x.rank >= 2 else { throw c.failure("input of rank \(x.rank); Trilu needs rank >= 2") }
        let k = try c.optionalConstant(1, "k")?.integerValues.first ?? 0
        let bound = Int64(x.shape[x.rank - 1] + x.shape[x.rank - 2] + 1)
        return TriluOperator(outputTypes: [x], rows: x.shape[x.rank - 2], columns: x.shape[x.rank - 1],
                             k: Int(Swift.min(Swift.max(k, -bound), bound)), upper: try c.int("upper", 1) != 0)
    }
}
