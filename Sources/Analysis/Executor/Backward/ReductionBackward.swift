import Kernels

// Derivatives of ReduceSum and ReduceMean (see Ops/Reduction.swift): linear, so the tangent is the
// reduced input tangent and the adjoint spreads each output adjoint over the elements it summed.

/// y[o] = scale · Σ_{e → o} x[e], scale 1 (sum) or 1 / (elements per output) (mean).
struct ReduceDerivative: DerivativeRule {
    /// The output element each input element is summed into.
    let outputOf: [Int32]
    let outCount: Int
    let scale: Float

    init(_ c: DerivativeContext, _ op: ReduceOperator) throws {
        switch op.kind {
        case .kernel(.sum): scale = 1
        case .kernel(.mean): scale = 1 / Float(max(op.length, 1))
        default: throw c.failure("has no backward (only ReduceSum and ReduceMean are differentiable here)")
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
    }

    private var inCount: Int { outputOf.count }

    /// x (`copies` inputs) += scale · g spread back over the summed elements.
    private func spread(_ g: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, copies: Int, threads: Int) {
        let (inCount, outCount, scale) = (inCount, outCount, scale)
        outputOf.withUnsafeBufferPointer { map in
            Parallel.forEach(copies, threads: threads) { p in
                let gp = g + p * outCount, xp = x + p * inCount
                for e in 0..<inCount { xp[e] += gp[Int(map[e])] * scale }
            }
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        spread(g, gx, copies: 1, threads: 1)
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let (inCount, outCount, scale) = (inCount, outCount, scale)
        outputOf.withUnsafeBufferPointer { map in
            Parallel.forEach(d.probes, threads: d.threads) { p in
                let tp = tx + p * inCount, op = out + p * outCount
                for e in 0..<inCount { op[Int(map[e])] += tp[e] * scale }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        spread(tg, tgx, copies: d.probes, threads: d.threads)
    }
}
