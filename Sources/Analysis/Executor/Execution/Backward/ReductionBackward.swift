import Foundation
import Kernels

// Derivatives of the reductions (see Ops/Reduction.swift). Each output y[o] reduces the input
// elements e → o; its derivative is a weight per element, w_e = ∂y_o/∂x_e, so that
//   x̄_e += w_e·ȳ_o,   ẏ_o = Σ_e w_e·ẋ_e,   d x̄_e += w_e·d ȳ_o + ȳ_o·ẇ_e,
// with ẇ_e = a_e·ẋ_e + b_e·ẏ_o (coefficients a, b from the primal values):
//   Sum, Mean         w = 1 or 1/n             ẇ = 0 (linear)
//   Max, Min          w = 1 at the (first) extreme, else 0     ẇ = 0
//   L1 (Σ|x|)         w = sign x                ẇ = 0
//   SumSquare (Σx²)   w = 2x                    a = 2
//   L2 (√Σx²)         w = x/y                   a = 1/y, b = −x/y²
//   LogSumExp         w = p = e^(x−y)           a = p, b = −p
//   LogSum (log Σx)   w = 1/s, s = e^y          b = −1/s
// ReduceProd has no backward (its weights divide by elements that may be zero).

/// A reduction's derivative (see the file comment).
struct ReduceDerivative: DerivativeRule {
    enum Kind { case sum(scale: Float), extreme(max: Bool), l1, sumSquare, l2, logSumExp, logSum }
    let kind: Kind
    /// The output element each input element is reduced into.
    let outputOf: [Int32]
    let outCount: Int
    /// w, a and b per input element from the last `backward` (nonlinear kinds only).
    let factors: PrimalFactors?

    init(_ c: DerivativeContext, _ op: ReduceOperator) throws {
        switch op.kind {
        case .kernel(.sum): kind = .sum(scale: 1)
        case .kernel(.mean): kind = .sum(scale: 1 / Float(max(op.length, 1)))
        case .kernel(.max): kind = .extreme(max: true)
        case .kernel(.min): kind = .extreme(max: false)
        case .kernel(.l1): kind = .l1
        case .kernel(.sumSquare): kind = .sumSquare
        case .kernel(.l2): kind = .l2
        case .logSumExp: kind = .logSumExp
        case .logSum: kind = .logSum
        default: throw c.failure("has no backward (ReduceProd is not differentiable here)")
        }
        let inCount = op.outer * op.length * op.inner
        outCount = op.outer * op.inner
        guard inCount < 1 << 24 else { throw c.failure("input too large for reverse mode (\(inCount) elements)") }
        var outputOf = [Int32](repeating: 0, count: inCount)
        if let gather = op.gather {
            // The gathered view is [kept, reduced] (inner 1): its element j came from the input
            // element the gather reads there, found by gathering the input's element indices.
            let iota = UnsafeMutablePointer<Float>.allocate(capacity: max(inCount, 1))
            let source = UnsafeMutablePointer<Float>.allocate(capacity: max(inCount, 1))
            defer { iota.deallocate(); source.deallocate() }
            for i in 0..<inCount { iota[i] = Float(i) }
            gather.run(iota, source)
            for j in 0..<inCount { outputOf[Int(source[j])] = Int32(j / op.length) }
        } else {
            for e in 0..<inCount {
                let o = e / (op.length * op.inner), i = e % op.inner
                outputOf[e] = Int32(o * op.inner + i)
            }
        }
        self.outputOf = outputOf
        if case .sum = kind { factors = nil } else { factors = PrimalFactors(count: inCount, arrays: 3) }
    }

    private var inCount: Int { outputOf.count }

    /// Fills w, a, b (`factors`) from the input x and output y.
    private func computeWeights(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>) {
        guard let factors else { return }
        let w = factors[0], a = factors[1], b = factors[2]
        a.update(repeating: 0, count: inCount)
        b.update(repeating: 0, count: inCount)
        switch kind {
        case .sum: break
        case .extreme:
            // The first element equal to the output takes the whole weight.
            var taken = [Bool](repeating: false, count: outCount)
            for e in 0..<inCount {
                let o = Int(outputOf[e])
                let hit = !taken[o] && x[e] == y[o]
                if hit { taken[o] = true }
                w[e] = hit ? 1 : 0
            }
        case .l1:
            for e in 0..<inCount { w[e] = x[e] > 0 ? 1 : (x[e] < 0 ? -1 : 0) }
        case .sumSquare:
            for e in 0..<inCount { (w[e], a[e]) = (2 * x[e], 2) }
        case .l2:
            for e in 0..<inCount {
                let r = y[Int(outputOf[e])]
                guard r > 0 else { w[e] = 0; continue }
                (w[e], a[e], b[e]) = (x[e] / r, 1 / r, -x[e] / (r * r))
            }
        case .logSumExp:
            for e in 0..<inCount {
                let p = Foundation.exp(x[e] - y[Int(outputOf[e])])
                (w[e], a[e], b[e]) = (p, p, -p)
            }
        case .logSum:
            for e in 0..<inCount {
                let inverse = Foundation.exp(-y[Int(outputOf[e])])
                (w[e], b[e]) = (inverse, -inverse)
            }
        }
    }

    func backward(_ d: DerivativeIO) {
        if let x = d.inputs[0] { computeWeights(x, d.outputs[0]) }
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        spread(g, gx, copies: 1, threads: 1)
    }

    /// x (`copies` inputs) += w · g spread back over the reduced elements.
    private func spread(_ g: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, copies: Int, threads: Int) {
        let (inCount, outCount) = (inCount, outCount)
        let weights = factors.map { UnsafePointer($0[0]) }
        let scale: Float
        if case .sum(let s) = kind { scale = s } else { scale = 1 }
        outputOf.withUnsafeBufferPointer { map in
            Parallel.forEach(copies, threads: threads) { p in
                let gp = g + p * outCount, xp = x + p * inCount
                if let weights {
                    for e in 0..<inCount { xp[e] += gp[Int(map[e])] * weights[e] }
                } else {
                    for e in 0..<inCount { xp[e] += gp[Int(map[e])] * scale }
                }
            }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let (inCount, outCount) = (inCount, outCount)
        let weights = factors.map { UnsafePointer($0[0]) }
        let scale: Float
        if case .sum(let s) = kind { scale = s } else { scale = 1 }
        outputOf.withUnsafeBufferPointer { map in
            Parallel.forEach(d.probes, threads: d.threads) { p in
                let tp = tx + p * inCount, op = out + p * outCount
                if let weights {
                    for e in 0..<inCount { op[Int(map[e])] += tp[e] * weights[e] }
                } else {
                    for e in 0..<inCount { op[Int(map[e])] += tp[e] * scale }
                }
            }
        }
    }

    /// d x̄_e = w_e·d ȳ_o + ȳ_o·(a_e·ẋ_e + b_e·ẏ_o).
    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0) else { return }
        if let tg = d.outputTangentGrads[0] { spread(tg, tgx, copies: d.probes, threads: d.threads) }
        guard let factors, let g = d.outputGrads[0] else { return }
        switch kind {
        case .sum, .extreme, .l1: return
        default: break
        }
        let (inCount, outCount) = (inCount, outCount)
        let a = UnsafePointer(factors[1]), b = UnsafePointer(factors[2])
        let tx = d.inputTangent(0), ty = d.outputTangents[0].map { UnsafePointer($0) }
        outputOf.withUnsafeBufferPointer { map in
            Parallel.forEach(d.probes, threads: d.threads) { p in
                let o = tgx + p * inCount
                for e in 0..<inCount {
                    let out = Int(map[e])
                    var dw: Float = 0
                    if let tx { dw += a[e] * tx[p * inCount + e] }
                    if let ty { dw += b[e] * ty[p * outCount + out] }
                    o[e] += g[out] * dw
                }
            }
        }
    }
}
