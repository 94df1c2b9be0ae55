import Kernels

// Derivative of Einsum with one or two operands (see Ops/Einsum.swift). Einsum is linear in each
// operand, so
//   tangent:   ẏ = E(Ȧ, B) + E(A, Ḃ)
//   adjoint:   Ā = Σ ȳ[out] · B[b] over every label A lacks, itself an Einsum (out, b -> A's labels),
//              spread back over A's diagonal, broadcast dims and the labels A alone summed away.
// The tangent of an adjoint is the adjoint applied to the adjoint's tangent plus the adjoint with
// the other operand's tangent.

/// The adjoint of one operand: `step` computes R over `core` (the operand's labels the output or
/// the other operand has), then R is added to every element of the operand that reads it.
struct EinsumAdjoint {
    let step: EinsumStep
    /// Sizes of the operand's unique labels: the index space of the accumulation.
    let loopShape: [Int]
    /// Per unique label: its stride in the operand (diagonal strides added, 0 where it broadcasts).
    let operandStrides: [Int]
    /// Per unique label: its stride in R (0 for labels R does not have: R is constant along them).
    let coreStrides: [Int]
    /// [operandStrides, coreStrides], the accumulation loop's operands (built once).
    let loopStrides: [[Int]]
    let operandCount: Int

    init(operand: Int, equation: EinsumEquation, shapes: [[Int]]) {
        let labels = equation.operands[operand], shape = shapes[operand]
        let view = einsumView(labels: labels, shape: shape, sizes: equation.sizes)
        let other = shapes.count == 2 ? 1 - operand : nil
        let reachable = Set(equation.output + (other.map { equation.operands[$0] } ?? []))
        let core = view.labels.filter { reachable.contains($0) }
        let outputShape = equation.output.map { equation.sizes[$0]! }
        step = EinsumStep(aLabels: equation.output, aShape: outputShape, bLabels: other.map { equation.operands[$0] },
                          bShape: other.map { shapes[$0] }, result: core, sizes: equation.sizes)
        let coreOwn = Shapes.strides(core.map { equation.sizes[$0]! })
        loopShape = view.labels.map { equation.sizes[$0]! }
        operandStrides = view.labels.map { view.strides[$0]! }
        coreStrides = view.labels.map { label in core.firstIndex(of: label).map { coreOwn[$0] } ?? 0 }
        operandCount = shape.reduce(1, *)
        loopStrides = [operandStrides, coreStrides]
    }

    /// target (+)= adjoint of `outputAdjoint` with the other operand `other` (nil for one operand).
    func accumulate(_ outputAdjoint: UnsafePointer<Float>, other: UnsafePointer<Float>?, into target: UnsafeMutablePointer<Float>,
                    threads: Int) {
        withScratch(step.resultCount + step.scratchCount, zeroed: false) { scratch in
            step.run(outputAdjoint, other, into: scratch, scratch: scratch + step.resultCount, threads: threads)
            BroadcastLoop.forEach(shape: loopShape, strides: loopStrides) { _, offsets in
                target[offsets[0]] += scratch[offsets[1]]
            }
        }
    }
}

struct EinsumDerivative: DerivativeRule {
    let forward: EinsumStep
    let adjoints: [EinsumAdjoint]
    let outputCount: Int

    init(_ c: DerivativeContext, _ op: EinsumOperator) throws {
        guard op.shapes.count <= 2, op.steps.count == 1 else {
            throw c.failure("reverse mode supports Einsum with one or two operands, this one has \(op.shapes.count)")
        }
        forward = op.steps[0]
        adjoints = op.shapes.indices.map { EinsumAdjoint(operand: $0, equation: op.equation, shapes: op.shapes) }
        outputCount = c.outputTypes[0].count
    }

    /// The other operand of `operand` in a two-operand Einsum.
    private func other(_ operand: Int) -> Int? { adjoints.count == 2 ? 1 - operand : nil }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0] else { return }
        for (i, adjoint) in adjoints.enumerated() {
            guard let gx = d.inputGrad(i) else { continue }
            adjoint.accumulate(g, other: other(i).map { d.input($0) }, into: gx, threads: d.threads)
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        let n = outputCount
        withScratch(n + forward.scratchCount, zeroed: false) { scratch in
            for p in 0..<d.probes {
                for i in adjoints.indices {
                    guard let t = d.inputTangent(i) else { continue }
                    let operandCount = adjoints[i].operandCount
                    // E is linear in each operand: replace operand i by its tangent.
                    let a = i == 0 ? t + p * operandCount : d.input(0)
                    let b: UnsafePointer<Float>? = adjoints.count == 1 ? nil : (i == 1 ? t + p * operandCount : d.input(1))
                    forward.run(a, b, into: scratch, scratch: scratch + n, threads: d.threads)
                    let o = out + p * n
                    for e in 0..<n { o[e] += scratch[e] }
                }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        let n = outputCount
        for (i, adjoint) in adjoints.enumerated() {
            guard let tgx = d.inputTangentGrad(i) else { continue }
            let count = adjoint.operandCount
            for p in 0..<d.probes {
                let target = tgx + p * count
                if let tg = d.outputTangentGrads[0] {
                    adjoint.accumulate(tg + p * n, other: other(i).map { d.input($0) }, into: target, threads: d.threads)
                }
                if let j = other(i), let g = d.outputGrads[0], let tj = d.inputTangent(j) {
                    adjoint.accumulate(g, other: tj + p * adjoints[j].operandCount, into: target, threads: d.threads)
                }
            }
        }
    }
}
