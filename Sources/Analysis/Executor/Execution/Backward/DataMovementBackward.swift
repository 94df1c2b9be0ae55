import Kernels

// Derivatives of data movement (see Ops/DataMovement.swift). All of these are linear, so the tangent
// of a value is the op applied to the input tangent and the tangent of an adjoint is the backward
// applied to the output adjoint's tangent.

/// Transpose, Slice, Expand, Tile, Gather with constant indices, copies, inference Dropout: each output element is one input
/// element. The map is found once by running the forward on the input's element indices.
struct IndexMapDerivative: DerivativeRule {
    /// Input element of each output element (Int32: half the memory traffic of Int).
    let map: [Int32]
    let inCount: Int
    /// Whether `map` reaches every input element exactly once (Transpose, a full copy): the input's
    /// tangent adjoint is then written in full by the scatter, with no zeros needed first.
    let isPermutation: Bool
    /// `map` as runs of consecutive input elements (`gatherRuns`), when they average at least
    /// `minimumRunLength`: a head-split Transpose ([N, T, H, D] -> [N, H, T, D]) moves runs of D.
    let runs: (starts: [Int32], lengths: [Int32])?
    /// Below this average run length the per-run bookkeeping costs more than it saves.
    static let minimumRunLength = 4

    init(_ c: DerivativeContext) throws {
        guard let inType = c.inputTypes[0], c.constantInputs[0] == nil else { throw c.failure("no run-time data input") }
        for i in 1..<max(c.node.inputs.count, 1) where c.node.inputs[i] != nil && c.constantInputs[i] == nil {
            throw c.failure("has no backward with run-time input \(i) (indices, shapes) ")
        }
        inCount = inType.count
        let outCount = c.outputTypes[0].count
        guard inCount < 1 << 24, outCount < 1 << 31 else { throw c.failure("input too large for reverse mode (\(inCount) elements)") }
        let iota = UnsafeMutablePointer<Float>.allocate(capacity: max(inCount, 1))
        let out = UnsafeMutablePointer<Float>.allocate(capacity: max(outCount, 1))
        defer { iota.deallocate(); out.deallocate() }
        for i in 0..<inCount { iota[i] = Float(i) }
        let inputs = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: max(c.node.inputs.count, 1))
        // Outputs past the first (Dropout's mask) get scratch buffers: only output 0 is differentiated.
        let extra = c.outputTypes.dropFirst().map { UnsafeMutablePointer<Float>.allocate(capacity: max($0.count, 1)) }
        let outputs = UnsafeMutablePointer<UnsafeMutablePointer<Float>>.allocate(capacity: 1 + extra.count)
        defer { inputs.deallocate(); outputs.deallocate(); extra.forEach { $0.deallocate() } }
        inputs[0] = iota
        for i in 1..<max(c.node.inputs.count, 1) { inputs[i] = c.constantInputs[i].map { UnsafeMutablePointer(mutating: $0) } }
        outputs[0] = out
        for (i, buffer) in extra.enumerated() { outputs[1 + i] = buffer }
        c.op.forward(OperatorIO(inputTable: UnsafePointer(inputs), inputCount: c.node.inputs.count,
                                outputTable: UnsafePointer(outputs), workspace: c.workspace, threads: 1))
        map = (0..<outCount).map { Int32(out[$0]) }
        var seen = [Bool](repeating: false, count: inCount)
        var distinct = 0
        for source in map where !seen[Int(source)] {
            seen[Int(source)] = true
            distinct += 1
        }
        isPermutation = outCount == inCount && distinct == inCount
        var starts: [Int32] = [], lengths: [Int32] = []
        for (i, source) in map.enumerated() {
            if i > 0, source == map[i - 1] &+ 1 {
                lengths[lengths.count - 1] += 1
            } else {
                starts.append(source)
                lengths.append(1)
            }
        }
        runs = starts.count * Self.minimumRunLength <= outCount ? (starts, lengths) : nil
    }

    /// The gather writes every output element once.
    var overwritesOutputTangent: Bool { true }
    var overwritesUnwrittenInputTangentGrad: Bool { isPermutation }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        for (i, source) in map.enumerated() { gx[Int(source)] += g[i] }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        let n = map.count
        guard let tx = d.inputTangent(0) else {
            zeroFill(out, count: d.probes * n, threads: d.threads)
            return
        }
        if let runs {
            runs.starts.withUnsafeBufferPointer { starts in runs.lengths.withUnsafeBufferPointer { lengths in
                Parallel.forEach(d.probes, threads: d.threads) { p in
                    gatherRuns(tx + p * inCount, starts: starts.baseAddress!, lengths: lengths.baseAddress!,
                               runs: starts.count, into: out + p * n)
                }
            } }
            return
        }
        map.withUnsafeBufferPointer { map in
            Parallel.forEach(d.probes, threads: d.threads) { p in
                let o = out + p * n, t = tx + p * inCount
                for i in 0..<n { o[i] = t[Int(map[i])] }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0) else { return }
        // Unwritten (only for a permutation): every element is stored once instead of added to zeros.
        let unwritten = d.inputTangentGradUnwritten
        guard let tg = d.outputTangentGrads[0] else {
            if unwritten { zeroFill(tgx, count: d.probes * inCount, threads: d.threads) }
            return
        }
        let n = map.count
        if let runs {
            runs.starts.withUnsafeBufferPointer { starts in runs.lengths.withUnsafeBufferPointer { lengths in
                Parallel.forEach(d.probes, threads: d.threads) { p in
                    scatterRuns(tg + p * n, starts: starts.baseAddress!, lengths: lengths.baseAddress!, runs: starts.count,
                                into: tgx + p * inCount, accumulate: !unwritten)
                }
            } }
            return
        }
        map.withUnsafeBufferPointer { map in
            Parallel.forEach(d.probes, threads: d.threads) { p in
                let t = tg + p * n, o = tgx + p * inCount
                if unwritten {
                    for i in 0..<n { o[Int(map[i])] = t[i] }
                } else {
                    for i in 0..<n { o[Int(map[i])] += t[i] }
                }
            }
        }
    }
}

/// Concat of rows: input i fills columns [offset_i, offset_i + width_i) of each of `outer` rows.
struct ConcatDerivative: DerivativeRule {
    let outer: Int
    let widths: [Int]

    init(_ c: DerivativeContext, _ op: ConcatOperator) {
        outer = op.outer
        widths = op.widths
    }

    /// Moves between the joined layout (`joined`) and part i, for `copies` probe copies.
    fileprivate static func move(outer: Int, widths: [Int], copies: Int, part: Int,
                                 _ body: (_ joinedIndex: Int, _ partIndex: Int, _ count: Int) -> Void) {
        let total = widths.reduce(0, +), width = widths[part]
        let column = widths[..<part].reduce(0, +)
        guard width > 0 else { return }
        for p in 0..<copies {
            for row in 0..<outer {
                body(p * outer * total + row * total + column, p * outer * width + row * width, width)
            }
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0] else { return }
        for i in widths.indices {
            guard let gx = d.inputGrad(i) else { continue }
            Self.move(outer: outer, widths: widths, copies: 1, part: i) { j, k, n in for e in 0..<n { gx[k + e] += g[j + e] } }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        for i in widths.indices {
            guard let tx = d.inputTangent(i) else { continue }
            Self.move(outer: outer, widths: widths, copies: d.probes, part: i) { j, k, n in for e in 0..<n { out[j + e] += tx[k + e] } }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0] else { return }
        for i in widths.indices {
            guard let tgx = d.inputTangentGrad(i) else { continue }
            Self.move(outer: outer, widths: widths, copies: d.probes, part: i) { j, k, n in for e in 0..<n { tgx[k + e] += tg[j + e] } }
        }
    }
}

/// Split: the inverse of Concat (output i takes columns [offset_i, offset_i + width_i)).
struct SplitDerivative: DerivativeRule {
    let outer: Int
    let widths: [Int]

    init(_ c: DerivativeContext, _ op: SplitOperator) {
        outer = op.outer
        widths = op.widths
    }

    func backward(_ d: DerivativeIO) {
        guard let gx = d.inputGrad(0) else { return }
        for i in widths.indices {
            guard let g = d.outputGrads[i] else { continue }
            ConcatDerivative.move(outer: outer, widths: widths, copies: 1, part: i) { j, k, n in for e in 0..<n { gx[j + e] += g[k + e] } }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let tx = d.inputTangent(0) else { return }
        for i in widths.indices {
            guard let out = d.outputTangents[i] else { continue }
            ConcatDerivative.move(outer: outer, widths: widths, copies: d.probes, part: i) { j, k, n in
                for e in 0..<n { out[k + e] += tx[j + e] }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0) else { return }
        for i in widths.indices {
            guard let tg = d.outputTangentGrads[i] else { continue }
            ConcatDerivative.move(outer: outer, widths: widths, copies: d.probes, part: i) { j, k, n in
                for e in 0..<n { tgx[j + e] += tg[k + e] }
            }
        }
    }
}

/// Pad: each output element is one input element (edge and reflect modes, the inside of constant
/// mode) or the constant (no derivative). The map is found once by running the same pad on the
/// input's element indices with the constant −1.
struct PadDerivative: DerivativeRule {
    /// Input element of each output element, −1 for the constant.
    let map: [Int32]
    let inCount: Int

    init(_ c: DerivativeContext, _ op: PadOperator) throws {
        guard c.constantInputs.first ?? nil == nil else { throw c.failure("no run-time data input") }
        inCount = op.inputShape.reduce(1, *)
        let outCount = c.outputTypes[0].count
        guard inCount < 1 << 24 else { throw c.failure("input too large for reverse mode (\(inCount) elements)") }
        let marker = PadOperator(outputTypes: op.outputTypes, inputShape: op.inputShape, begins: op.begins, mode: op.mode, value: -1)
        let iota = UnsafeMutablePointer<Float>.allocate(capacity: max(inCount, 1))
        let out = UnsafeMutablePointer<Float>.allocate(capacity: max(outCount, 1))
        let inputs = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: 1)
        let outputs = UnsafeMutablePointer<UnsafeMutablePointer<Float>>.allocate(capacity: 1)
        defer { iota.deallocate(); out.deallocate(); inputs.deallocate(); outputs.deallocate() }
        for i in 0..<inCount { iota[i] = Float(i) }
        inputs[0] = iota
        outputs[0] = out
        marker.forward(OperatorIO(inputTable: UnsafePointer(inputs), inputCount: 1, outputTable: UnsafePointer(outputs),
                                  workspace: c.workspace, threads: 1))
        map = (0..<outCount).map { Int32(out[$0]) }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        for (i, source) in map.enumerated() where source >= 0 { gx[Int(source)] += g[i] }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let (n, inCount) = (map.count, inCount)
        map.withUnsafeBufferPointer { map in
            Parallel.forEach(d.probes, threads: d.threads) { p in
                let o = out + p * n, t = tx + p * inCount
                for i in 0..<n where map[i] >= 0 { o[i] += t[Int(map[i])] }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        let (n, inCount) = (map.count, inCount)
        map.withUnsafeBufferPointer { map in
            Parallel.forEach(d.probes, threads: d.threads) { p in
                let t = tg + p * n, o = tgx + p * inCount
                for i in 0..<n where map[i] >= 0 { o[Int(map[i])] += t[i] }
            }
        }
    }
}
