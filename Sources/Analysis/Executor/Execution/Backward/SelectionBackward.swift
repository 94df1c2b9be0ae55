import Kernels

// Derivatives of ops whose every output element is a weighted sum of broadcast input elements, the
// weights fixed by the primal values: Sum and Mean (every input, weight 1 or 1/k), Max and Min (the
// input holding the extreme, weight 1; a tie goes to the first such input, where PyTorch splits it),
// Where (input 1 or 2 by the condition, which has no derivative). Also the ops whose outputs are not
// differentiable at all (comparisons, logic, ArgMax/ArgMin): their derivative is zero.

/// y[i] = Σ_k weight_k(i) · x_k[offset_k(i)] over the data inputs k, with `weight_k(i)` from the
/// primal values (found in `backward` for Max, Min and Where, constant for Sum and Mean).
struct SelectionDerivative: DerivativeRule {
    enum Kind { case sum(scale: Float), max, min, whereCondition }
    let kind: Kind
    /// Inputs that carry derivatives (all for Sum/Mean/Max/Min; 1 and 2 for Where).
    let dataInputs: [Int]
    /// Per data input: the element each output element reads (broadcast).
    let offsets: [[Int32]]
    /// Per data input: its element count (the stride between probe copies).
    let inputCounts: [Int]
    /// For Max, Min and Where: which data input (position in `dataInputs`) each output takes, from
    /// the last `backward`.
    let chosen: PrimalIndices
    let count: Int
    /// Where: the condition element each output element reads (empty for the other ops).
    let conditionOffsets: [Int32]

    init(_ c: DerivativeContext, _ op: VariadicOperator) throws {
        let kind: Kind
        switch op.op {
        case .add: kind = .sum(scale: op.mean ? 1 / Float(op.shapes.count) : 1)
        case .max: kind = .max
        case .min: kind = .min
        default: throw c.failure("has no backward")
        }
        try self.init(c, kind: kind, shapes: op.shapes, data: Array(op.shapes.indices))
    }

    init(_ c: DerivativeContext, _ op: WhereOperator) throws {
        try self.init(c, kind: .whereCondition, shapes: (0..<3).map { c.inputTypes[$0]?.shape ?? [] }, data: [1, 2])
    }

    private init(_ c: DerivativeContext, kind: Kind, shapes: [[Int]], data: [Int]) throws {
        self.kind = kind
        let shape = c.outputTypes[0].shape
        count = c.outputTypes[0].count
        guard count < Int(Int32.max), shapes.allSatisfy({ $0.reduce(1, *) < Int(Int32.max) }) else {
            throw c.failure("too large for reverse mode")
        }
        dataInputs = data
        func broadcastOffsets(_ k: Int) -> [Int32] {
            var map = [Int32](repeating: 0, count: shape.reduce(1, *))
            BroadcastLoop.forEach(shape: shape, strides: [Shapes.broadcastStrides(shapes[k], to: shape)]) { i, o in map[i] = Int32(o[0]) }
            return map
        }
        offsets = data.map(broadcastOffsets)
        conditionOffsets = data.first == 1 ? broadcastOffsets(0) : []
        inputCounts = data.map { shapes[$0].reduce(1, *) }
        chosen = PrimalIndices(count: count)
    }

    /// The weight of data input `j` (position in `dataInputs`) for output `i`.
    @inline(__always)
    private func weight(_ j: Int, _ i: Int) -> Float {
        if case .sum(let scale) = kind { return scale }
        return chosen.pointer[i] == Int32(j) ? 1 : 0
    }

    func backward(_ d: DerivativeIO) {
        switch kind {
        case .sum: break
        case .max, .min:
            let y = d.outputs[0]
            for i in 0..<count {
                var pick: Int32 = 0
                for (j, k) in dataInputs.enumerated() where d.input(k)[Int(offsets[j][i])] == y[i] {
                    pick = Int32(j)
                    break
                }
                chosen.pointer[i] = pick
            }
        case .whereCondition:
            let condition = d.input(0)
            for i in 0..<count { chosen.pointer[i] = condition[Int(conditionOffsets[i])] != 0 ? 0 : 1 }
        }
        guard let g = d.outputGrads[0] else { return }
        for (j, k) in dataInputs.enumerated() {
            guard let gx = d.inputGrad(k) else { continue }
            let map = offsets[j]
            for i in 0..<count { gx[Int(map[i])] += g[i] * weight(j, i) }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        for (j, k) in dataInputs.enumerated() {
            guard let tx = d.inputTangent(k) else { continue }
            let (map, inCount, count) = (offsets[j], inputCounts[j], count)
            for p in 0..<d.probes {
                let o = out + p * count, t = tx + p * inCount
                for i in 0..<count { o[i] += t[Int(map[i])] * weight(j, i) }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0] else { return }
        for (j, k) in dataInputs.enumerated() {
            guard let tgx = d.inputTangentGrad(k) else { continue }
            let (map, inCount, count) = (offsets[j], inputCounts[j], count)
            for p in 0..<d.probes {
                let t = tg + p * count, o = tgx + p * inCount
                for i in 0..<count { o[Int(map[i])] += t[i] * weight(j, i) }
            }
        }
    }
}

/// Comparisons, logic, ArgMax/ArgMin: piecewise constant in their inputs, so every derivative is
/// zero (their outputs feed masks and indices, e.g. Where's condition, not values).
struct ZeroDerivative: DerivativeRule {
    func backward(_ d: DerivativeIO) {}
    func tangent(_ d: DerivativeIO) {}
    func tangentBackward(_ d: DerivativeIO) {}
}
