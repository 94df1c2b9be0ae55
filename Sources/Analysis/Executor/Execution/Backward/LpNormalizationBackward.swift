import Kernels

/// LpNormalization, y = x / r along an axis with r = ‖x‖_p (see Ops/LpNormalization.swift).
///
/// With w = ∂r/∂x (w = y for p = 2, w = sign(x) for p = 1), per row:
///   x̄ = (ḡ − w·s)/r with s = ⟨ḡ, y⟩,
///   ẏ = (ẋ − y·ṙ)/r with ṙ = ⟨w, ẋ⟩,
///   d x̄ = (d ḡ − ẇ·s − w·ṡ)/r − (ḡ − w·s)·ṙ/r² with ṡ = ⟨d ḡ, y⟩ + ⟨ḡ, ẏ⟩ and ẇ = ẏ for p = 2,
///   0 for p = 1 (sign is constant almost everywhere).
/// A row of norm 0 (output zeros) has derivative 0.
struct LpNormDerivative: DerivativeRule {
    let outer: Int, length: Int, inner: Int
    let p: Int
    let count: Int
    /// [0] r and [1] s of each row (outer·inner floats) from the last `backward`.
    let factors: PrimalFactors

    init(_ c: DerivativeContext, _ op: LpNormOperator) {
        (outer, length, inner, p) = (op.outer, op.length, op.inner, op.p)
        count = outer * length * inner
        factors = PrimalFactors(count: outer * inner, arrays: 2)
    }

    /// Calls body(row, base) for every row: element j of the row is base + j·inner.
    @inline(__always)
    private func rows(_ body: (Int, Int) -> Void) {
        for o in 0..<outer { for i in 0..<inner { body(o * inner + i, o * length * inner + i) } }
    }

    /// w_j = ∂r/∂x_j.
    @inline(__always)
    private func w(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ e: Int) -> Float {
        p == 2 ? y[e] : (x[e] > 0 ? 1 : (x[e] < 0 ? -1 : 0))
    }

    func backward(_ d: DerivativeIO) {
        guard let x = d.inputs[0] else { return }
        let y = d.outputs[0], g = d.outputGrads[0], gx = d.inputGrad(0)
        let norms = factors[0], sums = factors[1]
        rows { row, base in
            let r = Float(LpNormOperator.norm(x + base, length: length, stride: inner, p: p))
            norms[row] = r
            var s: Float = 0
            if let g { for j in 0..<length { s += g[base + j * inner] * y[base + j * inner] } }
            sums[row] = s
            guard r > 0, let g, let gx else { return }
            for j in 0..<length {
                let e = base + j * inner
                gx[e] += (g[e] - w(x, y, e) * s) / r
            }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0), let x = d.inputs[0] else { return }
        let y = d.outputs[0], norms = factors[0]
        Parallel.forEach(d.probes, threads: d.threads) { probe in
            let t = tx + probe * count, o = out + probe * count
            rows { row, base in
                let r = norms[row]
                guard r > 0 else { return }
                var rdot: Float = 0
                for j in 0..<length { let e = base + j * inner; rdot += w(x, y, e) * t[e] }
                for j in 0..<length { let e = base + j * inner; o[e] += (t[e] - y[e] * rdot) / r }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0), let x = d.inputs[0] else { return }
        let y = d.outputs[0], g = d.outputGrads[0], tg = d.outputTangentGrads[0], tx = d.inputTangent(0)
        let norms = factors[0], sums = factors[1]
        Parallel.forEach(d.probes, threads: d.threads) { probe in
            let out = tgx + probe * count
            let dg = tg.map { UnsafePointer($0 + probe * count) }, t = tx.map { $0 + probe * count }
            rows { row, base in
                let r = norms[row], s = sums[row]
                guard r > 0 else { return }
                var rdot: Float = 0
                if let t { for j in 0..<length { let e = base + j * inner; rdot += w(x, y, e) * t[e] } }
                // ẏ_j = (ẋ_j − y_j·ṙ)/r, formed on the fly.
                @inline(__always) func ydot(_ e: Int) -> Float { t.map { ($0[e] - y[e] * rdot) / r } ?? 0 }
                var sdot: Float = 0
                for j in 0..<length {
                    let e = base + j * inner
                    sdot += (dg?[e] ?? 0) * y[e] + (g?[e] ?? 0) * ydot(e)
                }
                for j in 0..<length {
                    let e = base + j * inner
                    let wdot = p == 2 ? ydot(e) : 0
                    let we = w(x, y, e)
                    out[e] += ((dg?[e] ?? 0) - wdot * s - we * sdot) / r - ((g?[e] ?? 0) - we * s) * rdot / (r * r)
                }
            }
        }
    }
}
