import Kernels

// Derivatives of the index-driven gathers (Gather with run-time indices, GatherElements, GatherND;
// see Ops/Indexing.swift). Each output element is one data element or, for an index out of range,
// 0: the map is linear in the data, its adjoint a scatter-add. The indices (input 1) have no
// derivative. Gather with constant indices keeps `IndexMapDerivative` (run-length optimised).

/// y[i] = data[map[i]] (0 where map[i] = −1), the map recomputed from the indices on each `backward`
/// (token ids change from pass to pass; `tangent` and `tangentBackward` of the same pass reuse it).
struct GatherDerivative: DerivativeRule {
    let op: IndexedGather
    let map: PrimalIndices
    let outCount: Int
    let inCount: Int

    init(_ c: DerivativeContext, _ op: IndexedGather) throws {
        outCount = c.outputTypes[0].count
        inCount = op.dataCount
        guard inCount < Int(Int32.max), outCount < Int(Int32.max) else { throw c.failure("too large for reverse mode") }
        self.op = op
        map = PrimalIndices(count: outCount)
        if let indices = c.constantInputs.count > 1 ? c.constantInputs[1] : nil { op.sourceMap(indices: indices, into: map.pointer) }
    }

    var overwritesOutputTangent: Bool { true }

    func backward(_ d: DerivativeIO) {
        op.sourceMap(indices: d.input(1), into: map.pointer)
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        let map = map.pointer
        for i in 0..<outCount where map[i] >= 0 { gx[Int(map[i])] += g[i] }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        let (n, inCount, map) = (outCount, inCount, map.pointer)
        guard let tx = d.inputTangent(0) else {
            zeroFill(out, count: d.probes * n, threads: d.threads)
            return
        }
        Parallel.forEach(d.probes, threads: d.threads) { p in
            let o = out + p * n, t = tx + p * inCount
            for i in 0..<n { o[i] = map[i] >= 0 ? t[Int(map[i])] : 0 }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        let (n, inCount, map) = (outCount, inCount, map.pointer)
        Parallel.forEach(d.probes, threads: d.threads) { p in
            let t = tg + p * n, o = tgx + p * inCount
            for i in 0..<n where map[i] >= 0 { o[Int(map[i])] += t[i] }
        }
    }
}

/// CumSum is linear: its adjoint is the cumulative sum in the other direction (same `exclusive`).
struct CumSumDerivative: DerivativeRule {
    let op: CumSumOperator
    var count: Int { op.outer * op.length * op.inner }

    private func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, adjoint: Bool) {
        CumSumOperator.cumulativeSum(x, y, outer: op.outer, length: op.length, inner: op.inner, exclusive: op.exclusive,
                                     reverse: adjoint ? !op.reverse : op.reverse, accumulate: true)
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        apply(g, gx, adjoint: true)
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let count = count
        Parallel.forEach(d.probes, threads: d.threads) { p in apply(tx + p * count, out + p * count, adjoint: false) }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        let count = count
        Parallel.forEach(d.probes, threads: d.threads) { p in apply(tg + p * count, tgx + p * count, adjoint: true) }
    }
}

/// Trilu multiplies by a fixed 0/1 mask: every derivative is masked the same way.
struct TriluDerivative: DerivativeRule {
    let op: TriluOperator
    let count: Int

    init(_ c: DerivativeContext, _ op: TriluOperator) throws {
        guard c.constantInputs.count < 2 || c.node.inputs.count < 2 || c.node.inputs[1] == nil || c.constantInputs[1] != nil else {
            throw c.failure("has no backward with a run-time k")
        }
        self.op = op
        count = c.outputTypes[0].count
    }

    /// y (+)= mask ⊙ x for `probes` copies.
    private func masked(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, probes: Int, threads: Int) {
        let (rows, columns, count) = (op.rows, op.columns, count)
        Parallel.forEach(probes, threads: threads) { p in
            let (xp, yp) = (x + p * count, y + p * count)
            for e in 0..<count {
                let column = e % columns, row = (e / columns) % rows
                if op.keeps(row: row, column: column) { yp[e] += xp[e] }
            }
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        masked(g, gx, probes: 1, threads: 1)
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        masked(tx, out, probes: d.probes, threads: d.threads)
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        masked(tg, tgx, probes: d.probes, threads: d.threads)
    }
}
