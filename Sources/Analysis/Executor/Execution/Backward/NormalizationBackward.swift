import Foundation
import Kernels

// Derivatives of Softmax, LogSoftmax, LayerNormalization (see Ops/Normalization.swift),
// InstanceNormalization and GroupNormalization (Ops/GroupNormalization.swift) and of an unfolded
// BatchNormalization (Ops/Convolution.swift).

/// The rows of a (Log)Softmax: `outer` x `inner` rows of `length` elements, element j of the row
/// at `base` being base + j·inner.
struct SoftmaxRows {
    let outer: Int, length: Int, inner: Int

    init(_ op: SoftmaxOperator) { (outer, length, inner) = (op.outer, op.length, op.inner) }

    var count: Int { outer * length * inner }

    /// Calls body(base) for every row.
    @inline(__always)
    func forEach(_ body: (Int) -> Void) {
        for o in 0..<outer { for i in 0..<inner { body(o * length * inner + i) } }
    }
}

/// The (Log)Softmax rules: their rows' geometry, forwarded from `axis`.
protocol SoftmaxRowRule: DerivativeRule {
    var axis: SoftmaxRows { get }
}

extension SoftmaxRowRule {
    var count: Int { axis.count }
    var length: Int { axis.length }
    var inner: Int { axis.inner }
    @inline(__always) func rows(_ body: (Int) -> Void) { axis.forEach(body) }
}

/// y = softmax(x) along an axis: x̄ = y ⊙ (ḡ − ⟨ḡ, y⟩), ẏ = y ⊙ (ẋ − ⟨ẋ, y⟩).
/// LogSoftmax goes to `LogSoftmaxDerivative`.
struct SoftmaxDerivative: SoftmaxRowRule {
    let axis: SoftmaxRows

    init(_ c: DerivativeContext, _ op: SoftmaxOperator) throws {
        precondition(!op.logarithmic, "LogSoftmax goes to LogSoftmaxDerivative")
        axis = SoftmaxRows(op)
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        let y = d.outputs[0]
        rows { base in
            var s: Float = 0
            for j in 0..<length { s += g[base + j * inner] * y[base + j * inner] }
            for j in 0..<length { let e = base + j * inner; gx[e] += y[e] * (g[e] - s) }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let y = d.outputs[0]
        Parallel.forEach(d.probes, threads: d.threads) { p in
            let t = tx + p * count, o = out + p * count
            rows { base in
                var s: Float = 0
                for j in 0..<length { s += t[base + j * inner] * y[base + j * inner] }
                for j in 0..<length { let e = base + j * inner; o[e] += y[e] * (t[e] - s) }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0) else { return }
        let y = d.outputs[0], g = d.outputGrads[0], tg = d.outputTangentGrads[0], ty = d.outputTangents[0]
        Parallel.forEach(d.probes, threads: d.threads) { p in
            let out = tgx + p * count
            let pt = tg.map { $0 + p * count }, pyt = ty.map { UnsafePointer($0 + p * count) }
            rows { base in
                var s: Float = 0, sd: Float = 0
                for j in 0..<length {
                    let e = base + j * inner
                    let gv = g?[e] ?? 0
                    s += gv * y[e]
                    sd += (pt?[e] ?? 0) * y[e] + gv * (pyt?[e] ?? 0)
                }
                for j in 0..<length {
                    let e = base + j * inner
                    let gv = g?[e] ?? 0
                    out[e] += (pyt?[e] ?? 0) * (gv - s) + y[e] * ((pt?[e] ?? 0) - sd)
                }
            }
        }
    }
}

/// y = x − log Σ e^x along an axis, with p = e^y the softmax: x̄ = ḡ − p·Σḡ, ẏ = ẋ − ⟨p, ẋ⟩, and
/// the tangent of the adjoint d x̄ = d ḡ − p·Σ d ḡ − (p ⊙ ẏ)·Σḡ (since ṗ = p ⊙ ẏ).
struct LogSoftmaxDerivative: SoftmaxRowRule {
    let axis: SoftmaxRows

    init(_ c: DerivativeContext, _ op: SoftmaxOperator) throws {
        precondition(op.logarithmic, "Softmax goes to SoftmaxDerivative")
        axis = SoftmaxRows(op)
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        let y = d.outputs[0]
        rows { base in
            var s: Float = 0
            for j in 0..<length { s += g[base + j * inner] }
            for j in 0..<length { let e = base + j * inner; gx[e] += g[e] - Foundation.exp(y[e]) * s }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let y = d.outputs[0]
        Parallel.forEach(d.probes, threads: d.threads) { p in
            let t = tx + p * count, o = out + p * count
            rows { base in
                var s: Float = 0
                for j in 0..<length { s += t[base + j * inner] * Foundation.exp(y[base + j * inner]) }
                for j in 0..<length { let e = base + j * inner; o[e] += t[e] - s }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0) else { return }
        let y = d.outputs[0], g = d.outputGrads[0], tg = d.outputTangentGrads[0], ty = d.outputTangents[0]
        Parallel.forEach(d.probes, threads: d.threads) { p in
            let out = tgx + p * count
            let pt = tg.map { $0 + p * count }, pyt = ty.map { UnsafePointer($0 + p * count) }
            rows { base in
                var s: Float = 0, sd: Float = 0
                for j in 0..<length {
                    let e = base + j * inner
                    s += g?[e] ?? 0
                    sd += pt?[e] ?? 0
                }
                for j in 0..<length {
                    let e = base + j * inner
                    let prob = Foundation.exp(y[e])
                    out[e] += (pt?[e] ?? 0) - prob * sd - prob * (pyt?[e] ?? 0) * s
                }
            }
        }
    }
}

/// An unfolded BatchNormalization, y = x·scale[c] + shift[c] per channel c (inference statistics,
/// constant): linear, every derivative is the incoming one times scale[c].
struct BatchNormDerivative: DerivativeRule {
    let scale: [Float]
    let spatial: Int
    let count: Int

    init(_ c: DerivativeContext, _ op: BatchNormOperator) {
        scale = op.scale
        spatial = max(op.spatial, 1)
        count = c.outputTypes[0].count
    }

    /// out (`copies` values) += values · scale[channel].
    private func scaled(_ values: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, copies: Int, threads: Int) {
        let (count, spatial, channels) = (count, spatial, scale.count)
        scale.withUnsafeBufferPointer { scale in
            Parallel.forEach(copies, threads: threads) { p in
                let v = values + p * count, o = out + p * count
                for start in stride(from: 0, to: count, by: spatial) {
                    let s = scale[(start / spatial) % channels]
                    for i in start..<min(start + spatial, count) { o[i] += v[i] * s }
                }
            }
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        scaled(g, into: gx, copies: 1, threads: 1)
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        scaled(tx, into: out, copies: d.probes, threads: d.threads)
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        scaled(tg, into: tgx, copies: d.probes, threads: d.threads)
    }
}

/// y = γ·x̂ + β with x̂ = (x − μ)·r, r = 1/√(var + ε) per row (γ, β constant): LayerNormalization
/// (rows: the trailing dims), InstanceNormalization and GroupNormalization (rows: one group of one
/// sample). γ's element for each (row, column) comes from `scaleLayout`.
///
/// `backward` keeps x̂, r, ĝ = ȳ·γ and the row means of ĝ and ĝ·x̂ (`factors`): the tangent passes
/// that follow need them for every probe.
struct RowNormalizationDerivative: DerivativeRule {
    let rows: Int, columns: Int
    let epsilon: Float
    let scaleLayout: NormalizationScaleLayout
    /// [0] x̂ and [1] ĝ (rows x columns); [2] r, [3] mean ĝ, [4] mean ĝ·x̂ in the first `rows` floats.
    let factors: PrimalFactors

    init(_ c: DerivativeContext, _ op: LayerNormOperator) throws {
        guard !op.statistics else { throw c.failure("has no backward with the Mean/InvStdDev outputs") }
        guard c.constantInputs.count > 1, c.constantInputs[1] != nil,
              c.node.inputs.count < 3 || c.node.inputs[2] == nil || c.constantInputs[2] != nil else {
            throw c.failure("reverse mode needs constant scale and bias")
        }
        rows = op.rows
        columns = op.columns
        epsilon = op.epsilon
        scaleLayout = op.scaleIsFull ? .perColumn : .single
        factors = PrimalFactors(count: rows * columns, arrays: 5)
    }

    init(_ c: DerivativeContext, _ op: GroupNormOperator) throws {
        guard c.constantInputs.count > 2, c.constantInputs[1] != nil, c.constantInputs[2] != nil else {
            throw c.failure("reverse mode needs constant scale and bias")
        }
        rows = op.rows
        columns = op.columns
        epsilon = op.epsilon
        scaleLayout = op.scaleLayout
        factors = PrimalFactors(count: rows * columns, arrays: 5)
    }

    /// Row statistics: x̂ into `xhat`, returns r.
    @inline(__always)
    private func normalize(_ x: UnsafePointer<Float>, _ xhat: UnsafeMutablePointer<Float>) -> Float {
        var mean: Double = 0
        for i in 0..<columns { mean += Double(x[i]) }
        mean /= Double(columns)
        var variance: Double = 0
        for i in 0..<columns { variance += (Double(x[i]) - mean) * (Double(x[i]) - mean) }
        variance /= Double(columns)
        let r = 1 / (variance + Double(epsilon)).squareRoot()
        for i in 0..<columns { xhat[i] = Float((Double(x[i]) - mean) * r) }
        return Float(r)
    }

    @inline(__always) private func gamma(_ scale: UnsafePointer<Float>, _ row: Int, _ i: Int) -> Float {
        scale[scaleLayout.index(row: row, column: i)]
    }

    func backward(_ d: DerivativeIO) {
        guard let xs = d.inputs[0] else { return }
        let scale = d.input(1), g = d.outputGrads[0], gx = d.inputGrad(0)
        let xhatAll = factors[0], ghAll = factors[1], rs = factors[2], mgs = factors[3], ms = factors[4]
        for row in 0..<rows {
            let o = row * columns
            let xhat = xhatAll + o, gh = ghAll + o
            let r = normalize(xs + o, xhat)
            var mg: Float = 0, mgx: Float = 0
            for i in 0..<columns {
                gh[i] = (g?[o + i] ?? 0) * gamma(scale, row, i)
                mg += gh[i]
                mgx += gh[i] * xhat[i]
            }
            mg /= Float(columns)
            mgx /= Float(columns)
            rs[row] = r
            mgs[row] = mg
            ms[row] = mgx
            if let gx, g != nil { for i in 0..<columns { gx[o + i] += r * (gh[i] - mg - xhat[i] * mgx) } }
        }
    }

    /// Runs `body(probe, rows)` over probes x blocks of rows, on `threads`.
    @inline(__always)
    private func forEachBlock(probes: Int, threads: Int, _ body: (Int, Range<Int>) -> Void) {
        let rowsPerBlock = max(1, 4096 / max(columns, 1))
        let blocks = (rows + rowsPerBlock - 1) / rowsPerBlock
        Parallel.forEach(probes * blocks, threads: probes * rows * columns >= 1 << 14 ? threads : 1) { task in
            let block = task % blocks
            body(task / blocks, (block * rowsPerBlock)..<min(rows, (block + 1) * rowsPerBlock))
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let scale = d.input(1)
        let count = rows * columns, n = Float(columns)
        let xhatAll = factors[0], rs = factors[2]
        forEachBlock(probes: d.probes, threads: d.threads) { p, block in
            for row in block {
                let o = row * columns
                let xhat = xhatAll + o, t = tx + p * count + o, y = out + p * count + o
                let mt = rowSum(t, count: columns) / n, mxt = laneDot(xhat, t, count: columns) / n
                let r = rs[row]
                for i in 0..<columns { y[i] += gamma(scale, row, i) * r * (t[i] - mt - xhat[i] * mxt) }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0) else { return }
        let scale = d.input(1), tg = d.outputTangentGrads[0], tx = d.inputTangent(0)
        let count = rows * columns
        let n = Float(columns)
        let xhatAll = factors[0], ghAll = factors[1], rs = factors[2], mgs = factors[3], ms = factors[4]
        forEachBlock(probes: d.probes, threads: d.threads) { p, block in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * columns) { buffer in
                let txh = buffer.baseAddress!, tgh = txh + columns
                for row in block {
                    let o = row * columns
                    let xhat = xhatAll + o, gh = ghAll + o
                    let r = rs[row], mg = mgs[row], m = ms[row]
                    // ẋ̂ and ṙ from the input tangent.
                    var rdot: Float = 0
                    if let tx {
                        let t = tx + p * count + o
                        let mt = rowSum(t, count: columns) / n, mxt = laneDot(xhat, t, count: columns) / n
                        for i in 0..<columns { txh[i] = r * (t[i] - mt - xhat[i] * mxt) }
                        rdot = -r * r * mxt
                    } else {
                        for i in 0..<columns { txh[i] = 0 }
                    }
                    if let tg {
                        for i in 0..<columns { tgh[i] = tg[p * count + o + i] * gamma(scale, row, i) }
                    } else {
                        for i in 0..<columns { tgh[i] = 0 }
                    }
                    let mtg = rowSum(tgh, count: columns) / n
                    let mdot = (laneDot(tgh, xhat, count: columns) + laneDot(gh, txh, count: columns)) / n
                    let out = tgx + p * count + o
                    for i in 0..<columns {
                        out[i] += rdot * (gh[i] - mg - xhat[i] * m) + r * (tgh[i] - mtg - txh[i] * m - xhat[i] * mdot)
                    }
                }
            }
        }
    }
}

/// Σ x[i] over one row, 16 lanes at a time (the order of a vector sum, not of a scalar loop).
@inline(__always)
private func rowSum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD16<Float>()
    var i = 0
    while i + 16 <= count {
        lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        i += 16
    }
    var sum = lanes.sum()
    while i < count {
        sum += x[i]
        i += 1
    }
    return sum
}
