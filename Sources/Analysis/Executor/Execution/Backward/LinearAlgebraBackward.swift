import Kernels

// Derivatives of Gemm and MatMul (see Ops/LinearAlgebra.swift).
//
// A dense product `Z = alpha·A·op(B) (+ C)`, `Y = relu?(Z)`: Ā = alpha·Z̄·op(B)ᵀ, op(B)̄ = alpha·AᵀZ̄.
// The product is bilinear, so the tangent of an adjoint is the same formula with one factor
// replaced by its tangent, summed; ReLU's mask has a zero derivative almost everywhere.
// Quadratic-form mode for the weight B (Hutchinson traces, see ConvolutionBackward.swift):
// vᵀ(Hv)_B = ⟨Ż̄, alpha·A·op(V)⟩ + ⟨Z̄, alpha·Ȧ·op(V)⟩, without the B̄-tangent products.
// Pairing (a first layer F feeding this product as A, see `DerivativeIO.inputPairing`): F's form
// ⟨Ā̇, Ȧ⟩ with Ā̇ = alpha·(Ż̄·op(B)ᵀ + Z̄·op(V)ᵀ) equals ⟨Ż̄, alpha·Ȧ·op(B)⟩ + ⟨Z̄, alpha·Ȧ·op(V)⟩:
// the first product is the tangent's Ȧ term, the second this layer's own second term, so Ā̇ (two
// products per probe, a fifth of an MLP's work) is never formed.

/// One shared product `[M, K] x op(B)` (Gemm with transA = 0, MatMul with one [K, N] weight).
struct DenseDerivative: DerivativeRule {
    let m: Int, n: Int, k: Int
    let transB: Bool
    let alpha: Float
    let relu: Bool

    /// Z̄ (or its tangent) = adjoint ⊙ mask into `out` (probes copies).
    private func masked(_ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, probes: Int, into out: UnsafeMutablePointer<Float>,
                        threads: Int) {
        if relu {
            copyWherePositive(g, mask: y, into: out, count: m * n, probes: probes, threads: threads)
        } else {
            out.update(from: g, count: probes * m * n)
        }
    }

    /// Ā (+)= alpha·Z̄·op(B)ᵀ for `rows` rows of Z̄.
    /// `accumulate` false: Ā is written, not added to.
    private func gradA(_ z: UnsafePointer<Float>, rows: Int, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                       accumulate: Bool = true, threads: Int) {
        matmulAccumulate(m: rows, n: k, k: n, z, false, b, !transB, out, alpha: alpha, accumulate: accumulate, threads: threads)
    }

    /// B̄ (as stored) (+)= alpha·Aᵀ·Z̄ (or its transpose when transB).
    private func gradB(_ a: UnsafePointer<Float>, _ z: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, threads: Int) {
        if transB {
            matmulAccumulate(m: n, n: k, k: m, z, true, a, false, out, alpha: alpha, threads: threads)
        } else {
            matmulAccumulate(m: k, n: n, k: m, a, true, z, false, out, alpha: alpha, threads: threads)
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0] else { return }
        withScratch(m * n) { z in
            masked(g, d.outputs[0], probes: 1, into: z, threads: d.threads)
            if let ga = d.inputGrad(0) { gradA(z, rows: m, d.input(1), ga, threads: d.threads) }
            if let gb = d.inputGrad(1) { gradB(d.input(0), z, gb, threads: d.threads) }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        let probes = d.probes
        if let ta = d.inputTangent(0) {
            // The first term writes the output tangents (the engine does not zero them, `overwritesOutputTangent`).
            matmulAccumulate(m: probes * m, n: n, k: k, ta, false, d.input(1), transB, out, alpha: alpha, accumulate: false,
                             threads: d.threads)
            if d.inputPairing != nil, let u = d.retained {
                // alpha·Ȧ·op(B) alone (nothing else written yet), for the producer's form.
                (u + probes * m * n).update(from: out, count: probes * m * n)
            }
        } else {
            zeroFill(out, count: probes * m * n, threads: d.threads)
        }
        if let tb = d.inputTangent(1) {
            if probes > 1, !narrowGemmPaysOff(m: m, n: n, k: k) {
                weightTangentProducts(d, tb: tb, out: out)
            } else {
                for p in 0..<probes {
                    if let u = d.retained {
                        // Kept for the quadratic form's first term (tangentBackward).
                        matmulAccumulate(m: m, n: n, k: k, d.input(0), false, tb + p * n * k, transB, u + p * m * n,
                                         alpha: alpha, accumulate: false, threads: d.threads)
                        addInPlace(out + p * m * n, u + p * m * n, count: m * n, threads: d.threads)
                    } else {
                        matmulAccumulate(m: m, n: n, k: k, d.input(0), false, tb + p * n * k, transB, out + p * m * n,
                                         alpha: alpha, threads: d.threads)
                    }
                }
            }
            // Quadratic form, second term: ⟨Z̄, alpha·Ȧ·op(V)⟩. When Ā̇ is formed, tangentBackward takes it
            // as ⟨alpha·Z̄·op(V)ᵀ, Ȧ⟩ from the product Ā̇ needs anyway (one GEMM per probe fewer).
            if let q = d.quadraticForms, d.inputTangentGrad(0) == nil, let ta = d.inputTangent(0), let g = d.outputGrads[0] {
                withScratch(relu ? m * n : 1, zeroed: false) { copy in
                    withScratch(m * n, zeroed: false) { t in
                        var z = g
                        if relu {
                            masked(g, d.outputs[0], probes: 1, into: copy, threads: d.threads)
                            z = UnsafePointer(copy)
                        }
                        for p in 0..<probes {
                            matmulAccumulate(m: m, n: n, k: k, ta + p * m * k, false, tb + p * n * k, transB, t,
                                             alpha: alpha, accumulate: false, threads: d.threads)
                            let term = dotProduct(z, t, count: m * n)
                            q[p] += term
                            d.inputPairing?[p] += term
                        }
                    }
                }
            }
        }
        if relu { applyReluMask(out, y: d.outputs[0], count: m * n, probes: probes, threads: d.threads) }
    }

    var quadraticFormWeight: Int? { 1 }
    /// `tangent` writes its output tangents in full: Ȧ·op(B) is stored, not added (zeros first without Ȧ).
    var overwritesOutputTangent: Bool { true }
    var overwritesUnwrittenInputTangentGrad: Bool { true }
    // With Ȧ = 0 the output tangent is the (masked) alpha·A·op(V), and ⟨mask ⊙ Ẏ̄, alpha·A·op(V)⟩ = ⟨Ẏ̄, Ẏ⟩.
    var quadraticFormIsOutputPairing: Bool { true }
    var completesInputPairing: Bool { true }

    /// A·op(V_p) for all probes as one product A·[op(V_1) … op(V_P)] (the blocked GEMM then packs A
    /// once instead of once per probe: for an MLP's first layer, 512x784 against 784x256 per probe,
    /// the packing cost as much as a third of the product), added to the output tangents and, in
    /// quadratic-form mode, kept in `retained`.
    private func weightTangentProducts(_ d: DerivativeIO, tb: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let probes = d.probes, width = probes * n
        withScratch(m * width, zeroed: false) { product in
            if transB {
                // The probes' [n, k] directions, one after another, are one [P·n, k] matrix.
                matmulAccumulate(m: m, n: width, k: k, d.input(0), false, tb, true, product, alpha: alpha,
                                 accumulate: false, threads: d.threads)
            } else {
                withScratch(k * width, zeroed: false) { stacked in
                    for p in 0..<probes {
                        for row in 0..<k { (stacked + row * width + p * n).update(from: tb + p * n * k + row * n, count: n) }
                    }
                    matmulAccumulate(m: m, n: width, k: k, d.input(0), false, stacked, false, product, alpha: alpha,
                                     accumulate: false, threads: d.threads)
                }
            }
            let retained = d.retained
            Parallel.forEach(probes, threads: d.threads) { p in
                for row in 0..<m {
                    let source = product + row * width + p * n, offset = p * m * n + row * n
                    retained?.advanced(by: offset).update(from: source, count: n)
                    addInPlace(out + offset, source, count: n)
                }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        // Without a ReLU the adjoints are used as they are; with one, masked copies.
        if relu {
            withScratch(m * n, zeroed: false) { z in
                withScratch(d.probes * m * n, zeroed: false) { tz in
                    if let g = d.outputGrads[0] { masked(g, d.outputs[0], probes: 1, into: z, threads: d.threads) }
                    if let tg = d.outputTangentGrads[0] { masked(tg, d.outputs[0], probes: d.probes, into: tz, threads: d.threads) }
                    tangentBackward(d, z: d.outputGrads[0] == nil ? nil : UnsafePointer(z),
                                    tz: d.outputTangentGrads[0] == nil ? nil : UnsafePointer(tz))
                }
            }
        } else {
            tangentBackward(d, z: d.outputGrads[0], tz: d.outputTangentGrads[0])
        }
    }

    /// The tangent backward from Z̄ (`z`) and its tangent (`tz`, probes copies), ReLU mask applied.
    private func tangentBackward(_ d: DerivativeIO, z: UnsafePointer<Float>?, tz: UnsafePointer<Float>?) {
        let probes = d.probes
        let ta = d.inputTangent(0), tb = d.inputTangent(1)
        let tga = d.inputTangentGrad(0), tgb = d.inputTangentGrad(1)
        // Quadratic form, first term: ⟨Ż̄, alpha·A·op(V)⟩, kept by `tangent`.
        if let q = d.quadraticForms, let u = d.retained, let tz {
            for p in 0..<probes { q[p] += dotProduct(tz + p * m * n, u + p * m * n, count: m * n) }
        }
        // The producer's form, first part: ⟨Ż̄, alpha·Ȧ·op(B)⟩, kept by `tangent` after the probes' A·op(V).
        if let upstream = d.inputPairing, let u = d.retained, let tz {
            let w = u + probes * m * n
            for p in 0..<probes { upstream[p] += dotProduct(tz + p * m * n, w + p * m * n, count: m * n) }
        }
        if let tga {
            // Ā̇_p = alpha·Ż̄_p·op(B)ᵀ + alpha·Z̄·op(V_p)ᵀ, written rather than added when the engine left it
            // unwritten (`overwritesUnwrittenInputTangentGrad`). In quadratic-form mode the second
            // product also gives the form's second term ⟨alpha·Z̄·op(V_p)ᵀ, Ȧ_p⟩ (see `tangent`).
            let form = ta == nil ? nil : d.quadraticForms
            if let z, let tb, let form, let ta, d.inputTangentGradUnwritten {
                for p in 0..<probes {
                    gradA(z, rows: m, tb + p * n * k, tga + p * m * k, accumulate: false, threads: d.threads)
                    form[p] += dotProduct(tga + p * m * k, ta + p * m * k, count: m * k)
                }
                if let tz { gradA(tz, rows: probes * m, d.input(1), tga, threads: d.threads) }
            } else {
                if let tz {
                    gradA(tz, rows: probes * m, d.input(1), tga, accumulate: !d.inputTangentGradUnwritten, threads: d.threads)
                } else if d.inputTangentGradUnwritten {
                    zeroFill(tga, count: probes * m * k, threads: d.threads)
                }
                if let z, let tb {
                    if let form, let ta {
                        withScratch(m * k, zeroed: false) { t in
                            for p in 0..<probes {
                                gradA(z, rows: m, tb + p * n * k, t, accumulate: false, threads: d.threads)
                                form[p] += dotProduct(t, ta + p * m * k, count: m * k)
                                addInPlace(tga + p * m * k, t, count: m * k, threads: d.threads)
                            }
                        }
                    } else {
                        for p in 0..<probes { gradA(z, rows: m, tb + p * n * k, tga + p * m * k, threads: d.threads) }
                    }
                }
            }
        }
        if let tgb {
            for p in 0..<probes {
                if let tz { gradB(d.input(0), tz + p * m * n, tgb + p * n * k, threads: d.threads) }
                if let z, let ta { gradB(ta + p * m * k, z, tgb + p * n * k, threads: d.threads) }
            }
        }
    }
}

func GemmDerivative(_ c: DerivativeContext, _ op: GemmOperator) throws -> DerivativeRule {
    guard !op.transA else { throw c.failure("reverse mode needs transA = 0") }
    if c.node.inputs.count > 2, c.node.inputs[2] != nil, c.constantInputs.count > 2, c.constantInputs[2] == nil {
        throw c.failure("reverse mode needs a constant C")
    }
    return DenseDerivative(m: op.m, n: op.n, k: op.k, transB: op.transB, alpha: op.alpha, relu: op.relu)
}

func MatMulDerivative(_ c: DerivativeContext, _ op: MatMulOperator) throws -> DerivativeRule {
    if op.foldsBatchIntoM {
        if c.node.inputs.count > 2, c.node.inputs[2] != nil, c.constantInputs[2] == nil {
            throw c.failure("reverse mode needs a constant bias")
        }
        return DenseDerivative(m: op.batch * op.m, n: op.n, k: op.k, transB: false, alpha: 1, relu: op.relu)
    }
    guard let aType = c.inputTypes[0], let bType = c.inputTypes[1] else { throw c.failure("missing operand") }
    return BatchedMatMulDerivative(m: op.m, n: op.n, k: op.k, batch: op.batch, aIndex: op.aIndex, bIndex: op.bIndex,
                                   aCount: aType.count, bCount: bType.count)
}

/// Many independent products `C_i = A_{aIndex[i]} · B_{bIndex[i]}` (attention scores and values).
struct BatchedMatMulDerivative: DerivativeRule {
    let m: Int, n: Int, k: Int, batch: Int
    let aIndex: [Int], bIndex: [Int]
    let aCount: Int, bCount: Int

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0] else { return }
        let a = d.input(0), b = d.input(1)
        let ga = d.inputGrad(0), gb = d.inputGrad(1)
        for i in 0..<batch {
            let ai = aIndex[i] * m * k, bi = bIndex[i] * k * n, gi = g + i * m * n
            if let ga { smallProduct(m: m, n: k, k: n, gi, false, b + bi, true, ga + ai) }
            if let gb { smallProduct(m: k, n: n, k: m, a + ai, true, gi, false, gb + bi) }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        let a = d.input(0), b = d.input(1), ta = d.inputTangent(0), tb = d.inputTangent(1)
        let outCount = batch * m * n
        Parallel.forEach(d.probes, threads: d.threads) { p in
            for i in 0..<batch {
                let ai = aIndex[i] * m * k, bi = bIndex[i] * k * n, o = out + p * outCount + i * m * n
                if let ta { smallProduct(m: m, n: n, k: k, ta + p * aCount + ai, false, b + bi, false, o) }
                if let tb { smallProduct(m: m, n: n, k: k, a + ai, false, tb + p * bCount + bi, false, o) }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        let a = d.input(0), b = d.input(1), ta = d.inputTangent(0), tb = d.inputTangent(1)
        let g = d.outputGrads[0], tg = d.outputTangentGrads[0]
        let tga = d.inputTangentGrad(0), tgb = d.inputTangentGrad(1)
        let outCount = batch * m * n
        Parallel.forEach(d.probes, threads: d.threads) { p in
            for i in 0..<batch {
                let ai = aIndex[i] * m * k, bi = bIndex[i] * k * n, gi = i * m * n
                if let tga {
                    let target = tga + p * aCount + ai
                    if let tg { smallProduct(m: m, n: k, k: n, tg + p * outCount + gi, false, b + bi, true, target) }
                    if let g, let tb { smallProduct(m: m, n: k, k: n, g + gi, false, tb + p * bCount + bi, true, target) }
                }
                if let tgb {
                    let target = tgb + p * bCount + bi
                    if let tg { smallProduct(m: k, n: n, k: m, a + ai, true, tg + p * outCount + gi, false, target) }
                    if let g, let ta { smallProduct(m: k, n: n, k: m, ta + p * aCount + ai, true, g + gi, false, target) }
                }
            }
        }
    }
}

/// `C += op(A)·op(B)` for one small matrix product (attention: 17×16×17): `smallProductAccumulate`.
@inline(__always)
func smallProduct(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ aT: Bool, _ b: UnsafePointer<Float>, _ bT: Bool,
                  _ c: UnsafeMutablePointer<Float>) {
    smallProductAccumulate(m: m, n: n, k: k, a: a, transA: aT, b: b, transB: bT, c: c)
}
