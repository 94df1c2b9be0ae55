import Kernels

// Derivatives of Resize and Upsample (see Ops/Resize.swift). The op is linear in its input (the
// extrapolation value of tf_crop_and_resize is a constant), so the input adjoint is the transpose
// applied to the output adjoint (each axis's weights scattered back, last axis first), the tangent
// is the op applied to the input tangent with 0 for extrapolated outputs, and the tangent of the
// input adjoint is the transpose applied to the output adjoint's tangent.

struct ResizeDerivative: DerivativeRule {
    let op: ResizeOperator
    let inCount: Int
    let outCount: Int

    init(_ c: DerivativeContext, _ op: ResizeOperator) throws {
        for i in 1..<max(c.node.inputs.count, 1) where c.node.inputs[i] != nil && c.constantInputs[i] == nil {
            throw c.failure("has no backward with run-time input \(i) (roi, scales or sizes)")
        }
        self.op = op
        inCount = op.inputShape.reduce(1, *)
        outCount = op.outputTypes[0].count
    }

    /// The forward writes every output element.
    var overwritesOutputTangent: Bool { true }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        op.applyAdjoint(g, gx, threads: d.threads)
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        guard let tx = d.inputTangent(0) else {
            zeroFill(out, count: d.probes * outCount, threads: d.threads)
            return
        }
        withScratch(op.workspaceCount, zeroed: false) { workspace in
            for p in 0..<d.probes {
                op.apply(tx + p * inCount, out + p * outCount, extrapolation: 0, workspace: workspace, threads: d.threads)
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        for p in 0..<d.probes { op.applyAdjoint(tg + p * outCount, tgx + p * inCount, threads: d.threads) }
    }
}
