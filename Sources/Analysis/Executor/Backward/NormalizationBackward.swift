import Kernels

// Derivatives of Softmax and LayerNormalization (see Ops/Normalization.swift).

/// y = softmax(x) along an axis: x̄ = y ⊙ (ḡ − ⟨ḡ, y⟩), ẏ = y ⊙ (ẋ − ⟨ẋ, y⟩).
struct SoftmaxDerivative: DerivativeRule {
    let outer: Int, length: Int, inner: Int

    init(_ c: DerivativeContext, _ op: SoftmaxOperator) throws {
        guard !op.logarithmic else { throw c.failure("has no backward (LogSoftmax)") }
        outer = op.outer
        length = op.length
        inner = op.inner
    }

    private var count: Int { outer * length * inner }

    /// Calls body(base) for every softmax row; elements at base + j·inner.
    @inline(__always)
    private func rows(_ body: (Int) -> Void) {
        for o in 0..<outer { for i in 0..<inner { body(o * length * inner + i) } }
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
        for p in 0..<d.probes {
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
        for p in 0..<d.probes {
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

/// y = γ·x̂ + β with x̂ = (x − μ)·r, r = 1/√(var + ε) per row (γ, β constant).
struct LayerNormDerivative: DerivativeRule {
    let rows: Int, columns: Int
    let epsilon: Float
    let scaleIsFull: Bool

    init(_ c: DerivativeContext, _ op: LayerNormOperator) throws {
        guard !op.statistics else { throw c.failure("has no backward with the Mean/InvStdDev outputs") }
        guard c.constantInputs.count > 1, c.constantInputs[1] != nil,
              c.node.inputs.count < 3 || c.node.inputs[2] == nil || c.constantInputs[2] != nil else {
            throw c.failure("reverse mode needs constant scale and bias")
        }
        rows = op.rows
        columns = op.columns
        epsilon = op.epsilon
        scaleIsFull = op.scaleIsFull
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

    @inline(__always) private func gamma(_ scale: UnsafePointer<Float>, _ i: Int) -> Float { scaleIsFull ? scale[i] : scale[0] }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        let x = d.input(0), scale = d.input(1)
        withScratch(2 * columns) { buffer in
            let xhat = buffer, gh = buffer + columns
            for row in 0..<rows {
                let o = row * columns
                let r = normalize(x + o, xhat)
                var mg: Float = 0, mgx: Float = 0
                for i in 0..<columns {
                    gh[i] = g[o + i] * gamma(scale, i)
                    mg += gh[i]
                    mgx += gh[i] * xhat[i]
                }
                mg /= Float(columns)
                mgx /= Float(columns)
                for i in 0..<columns { gx[o + i] += r * (gh[i] - mg - xhat[i] * mgx) }
            }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let x = d.input(0), scale = d.input(1)
        let count = rows * columns
        withScratch(columns) { xhat in
            for row in 0..<rows {
                let o = row * columns
                let r = normalize(x + o, xhat)
                for p in 0..<d.probes {
                    let t = tx + p * count + o
                    var mt: Float = 0, mxt: Float = 0
                    for i in 0..<columns {
                        mt += t[i]
                        mxt += xhat[i] * t[i]
                    }
                    mt /= Float(columns)
                    mxt /= Float(columns)
                    let y = out + p * count + o
                    for i in 0..<columns { y[i] += gamma(scale, i) * r * (t[i] - mt - xhat[i] * mxt) }
                }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0) else { return }
        let x = d.input(0), scale = d.input(1), g = d.outputGrads[0], tg = d.outputTangentGrads[0], tx = d.inputTangent(0)
        let count = rows * columns
        let n = Float(columns)
        withScratch(4 * columns) { buffer in
            let xhat = buffer, gh = buffer + columns, txh = buffer + 2 * columns, tgh = buffer + 3 * columns
            for row in 0..<rows {
                let o = row * columns
                let r = normalize(x + o, xhat)
                var mg: Float = 0, m: Float = 0
                for i in 0..<columns {
                    gh[i] = (g?[o + i] ?? 0) * gamma(scale, i)
                    mg += gh[i]
                    m += gh[i] * xhat[i]
                }
                mg /= n
                m /= n
                for p in 0..<d.probes {
                    // ẋ̂ and ṙ from the input tangent.
                    var rdot: Float = 0
                    if let tx {
                        let t = tx + p * count + o
                        var mt: Float = 0, mxt: Float = 0
                        for i in 0..<columns {
                            mt += t[i]
                            mxt += xhat[i] * t[i]
                        }
                        mt /= n
                        mxt /= n
                        for i in 0..<columns { txh[i] = r * (t[i] - mt - xhat[i] * mxt) }
                        rdot = -r * r * mxt
                    } else {
                        for i in 0..<columns { txh[i] = 0 }
                    }
                    var mtg: Float = 0, mdot: Float = 0
                    for i in 0..<columns {
                        tgh[i] = (tg?[p * count + o + i] ?? 0) * gamma(scale, i)
                        mtg += tgh[i]
                        mdot += tgh[i] * xhat[i] + gh[i] * txh[i]
                    }
                    mtg /= n
                    mdot /= n
                    let out = tgx + p * count + o
                    for i in 0..<columns {
                        out[i] += rdot * (gh[i] - mg - xhat[i] * m) + r * (tgh[i] - mtg - txh[i] * m - xhat[i] * mdot)
                    }
                }
            }
        }
    }
}
