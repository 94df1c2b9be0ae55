import Foundation
import Kernels

// Derivatives of elementwise ops (see Ops/Elementwise.swift): unary functions through f' and f'',
// broadcasting Add/Sub/Mul/Div (adjoints summed over broadcast dims).

struct UnaryDerivative: DerivativeRule {
    enum Kind { case relu, gelu, erf, tanh, sigmoid }
    let kind: Kind
    let count: Int

    init(_ c: DerivativeContext, _ op: UnaryOperator) throws {
        switch op.function {
        case .relu: kind = .relu
        case .gelu(tanhApproximation: false): kind = .gelu
        case .erf: kind = .erf
        case .tanh: kind = .tanh
        case .sigmoid: kind = .sigmoid
        default: throw c.failure("has no backward (unary \(op.function) is not differentiable here)")
        }
        count = c.outputTypes[0].count
    }

    /// (f'(x), f''(x)) from the input x and output y.
    @inline(__always)
    func derivatives(_ x: Float, _ y: Float) -> (Float, Float) {
        switch kind {
        case .relu:
            return (x > 0 ? 1 : 0, 0)
        case .gelu:
            let phi = Foundation.exp(-0.5 * x * x) * 0.398_942_28
            let cdf = 0.5 * (1 + Foundation.erf(x * 0.707_106_77))
            return (cdf + x * phi, phi * (2 - x * x))
        case .erf:
            let d = 1.128_379_2 * Foundation.exp(-x * x)
            return (d, -2 * x * d)
        case .tanh:
            return (1 - y * y, -2 * y * (1 - y * y))
        case .sigmoid:
            let d = y * (1 - y)
            return (d, d * (1 - 2 * y))
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        let x = d.input(0), y = d.outputs[0]
        for i in 0..<count { gx[i] += g[i] * derivatives(x[i], y[i]).0 }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let x = d.input(0), y = d.outputs[0]
        for i in 0..<count {
            let f1 = derivatives(x[i], y[i]).0
            for p in 0..<d.probes { out[p * count + i] += f1 * tx[p * count + i] }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0) else { return }
        let x = d.input(0), y = d.outputs[0]
        let g = d.outputGrads[0], tg = d.outputTangentGrads[0], tx = d.inputTangent(0)
        for i in 0..<count {
            let (f1, f2) = derivatives(x[i], y[i])
            let second = (g != nil && tx != nil) ? g![i] * f2 : 0
            for p in 0..<d.probes {
                var v: Float = 0
                if let tg { v += tg[p * count + i] * f1 }
                if let tx, second != 0 { v += second * tx[p * count + i] }
                tgx[p * count + i] += v
            }
        }
    }
}

struct BinaryDerivative: DerivativeRule {
    let op: BinaryOp
    let shape: [Int]
    let strides: [[Int]]
    let counts: (a: Int, b: Int, out: Int)

    init(_ c: DerivativeContext, _ binary: BinaryOperator) throws {
        guard case .arithmetic(let op) = binary.function, op != .pow, !binary.integerDivision else {
            throw c.failure("has no backward (only Add, Sub, Mul and Div of floats are differentiable here)")
        }
        self.op = op
        shape = c.outputTypes[0].shape
        strides = [Shapes.broadcastStrides(binary.aShape, to: shape), Shapes.broadcastStrides(binary.bShape, to: shape)]
        counts = (binary.aShape.reduce(1, *), binary.bShape.reduce(1, *), shape.reduce(1, *))
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0] else { return }
        let a = d.input(0), b = d.input(1), ga = d.inputGrad(0), gb = d.inputGrad(1)
        guard ga != nil || gb != nil else { return }
        let op = self.op
        BroadcastLoop.forEach(shape: shape, strides: strides) { i, o in
            let gi = g[i], av = a[o[0]], bv = b[o[1]]
            switch op {
            case .add:
                ga?[o[0]] += gi
                gb?[o[1]] += gi
            case .sub:
                ga?[o[0]] += gi
                gb?[o[1]] -= gi
            case .mul:
                ga?[o[0]] += gi * bv
                gb?[o[1]] += gi * av
            default:
                ga?[o[0]] += gi / bv
                gb?[o[1]] -= gi * av / (bv * bv)
            }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        let a = d.input(0), b = d.input(1), ta = d.inputTangent(0), tb = d.inputTangent(1)
        let op = self.op
        for p in 0..<d.probes {
            let pa = ta.map { $0 + p * counts.a }, pb = tb.map { $0 + p * counts.b }, po = out + p * counts.out
            BroadcastLoop.forEach(shape: shape, strides: strides) { i, o in
                let dav = pa?[o[0]] ?? 0, dbv = pb?[o[1]] ?? 0
                switch op {
                case .add: po[i] += dav + dbv
                case .sub: po[i] += dav - dbv
                case .mul: po[i] += dav * b[o[1]] + a[o[0]] * dbv
                default:
                    let bv = b[o[1]]
                    po[i] += dav / bv - a[o[0]] * dbv / (bv * bv)
                }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        let tga = d.inputTangentGrad(0), tgb = d.inputTangentGrad(1)
        guard tga != nil || tgb != nil else { return }
        let a = d.input(0), b = d.input(1), ta = d.inputTangent(0), tb = d.inputTangent(1)
        let g = d.outputGrads[0], tg = d.outputTangentGrads[0]
        let op = self.op
        for p in 0..<d.probes {
            let pa = ta.map { $0 + p * counts.a }, pb = tb.map { $0 + p * counts.b }
            let pga = tga.map { $0 + p * counts.a }, pgb = tgb.map { $0 + p * counts.b }
            let ptg = tg.map { $0 + p * counts.out }
            BroadcastLoop.forEach(shape: shape, strides: strides) { i, o in
                let t = ptg?[i] ?? 0, gi = g?[i] ?? 0
                let av = a[o[0]], bv = b[o[1]], dav = pa?[o[0]] ?? 0, dbv = pb?[o[1]] ?? 0
                switch op {
                case .add:
                    pga?[o[0]] += t
                    pgb?[o[1]] += t
                case .sub:
                    pga?[o[0]] += t
                    pgb?[o[1]] -= t
                case .mul:
                    pga?[o[0]] += t * bv + gi * dbv
                    pgb?[o[1]] += t * av + gi * dav
                default:
                    let b2 = bv * bv
                    pga?[o[0]] += t / bv - gi * dbv / b2
                    pgb?[o[1]] += -t * av / b2 - gi * dav / b2 + 2 * gi * av * dbv / (b2 * bv)
                }
            }
        }
    }
}
