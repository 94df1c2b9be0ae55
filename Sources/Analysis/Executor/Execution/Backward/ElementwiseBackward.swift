import Foundation
import Kernels

// Derivatives of elementwise ops (see Ops/Elementwise.swift): unary functions through f' and f'',
// broadcasting Add/Sub/Mul/Div (adjoints summed over broadcast dims).

struct UnaryDerivative: DerivativeRule {
    /// Functions with their derivatives. Piecewise functions take the derivative of the piece that
    /// holds x, with PyTorch's choice at the joints (ReLU and LeakyReLU: the left piece at 0; Clip:
    /// 1 on the closed interval); rounding, sign and casts to integers have derivative 0, casts to
    /// floating-point types 1 (their rounding is not differentiated, as in PyTorch).
    enum Kind {
        case relu, gelu, geluTanh, erf, tanh, sigmoid, exp, log, sqrt, neg, abs, reciprocal, sin, cos
        case softplus, softsign, hardSwish, mish, identity, zero
        case celu(alpha: Float), shrink(lambda: Float), thresholdedRelu(alpha: Float)
        case leakyRelu(alpha: Float), elu(alpha: Float), selu(alpha: Float, gamma: Float)
        case hardSigmoid(alpha: Float, beta: Float), clip(low: Float, high: Float)
        /// x^p for a constant exponent p (Pow with a constant scalar exponent).
        case power(Float)

        /// Whether f'' is zero wherever it exists (the tangent adjoint then has no ȳ·f''·ẋ term).
        var isPiecewiseLinear: Bool {
            switch self {
            case .relu, .neg, .abs, .identity, .zero, .leakyRelu, .hardSigmoid, .clip, .shrink, .thresholdedRelu: return true
            default: return false
            }
        }
    }
    let kind: Kind
    let count: Int
    /// f'(x) and g·f''(x) of the last `backward` (g the output adjoint): the factors of every
    /// tangent and tangent adjoint of the pass, the same for all probes, so computed once there.
    let factors: PrimalFactors

    init(_ c: DerivativeContext, _ op: UnaryOperator) throws {
        switch op.function {
        case .relu: kind = .relu
        case .gelu(tanhApproximation: false): kind = .gelu
        case .gelu(tanhApproximation: true): kind = .geluTanh
        case .erf: kind = .erf
        case .tanh: kind = .tanh
        case .sigmoid: kind = .sigmoid
        case .exp: kind = .exp
        case .log: kind = .log
        case .sqrt: kind = .sqrt
        case .neg: kind = .neg
        case .abs: kind = .abs
        case .reciprocal: kind = .reciprocal
        case .sin: kind = .sin
        case .cos: kind = .cos
        case .softplus: kind = .softplus
        case .softsign: kind = .softsign
        case .hardSwish: kind = .hardSwish
        case .mish: kind = .mish
        case .celu(let alpha): kind = .celu(alpha: alpha)
        case .shrink(let lambda, _): kind = .shrink(lambda: lambda)
        case .thresholdedRelu(let alpha): kind = .thresholdedRelu(alpha: alpha)
        case .leakyRelu(let alpha): kind = .leakyRelu(alpha: alpha)
        case .elu(let alpha): kind = .elu(alpha: alpha)
        case .selu(let alpha, let gamma): kind = .selu(alpha: alpha, gamma: gamma)
        case .hardSigmoid(let alpha, let beta): kind = .hardSigmoid(alpha: alpha, beta: beta)
        case .clip(let low, let high): kind = .clip(low: low, high: high)
        case .floor, .ceil, .round, .sign, .not, .isNaN, .isInf: kind = .zero
        case .cast(let type): kind = type.isFloat ? .identity : .zero
        }
        count = c.outputTypes[0].count
        factors = PrimalFactors(count: count, arrays: 2)
    }

    /// Pow(x, p) with a constant scalar exponent p and a float base of the output's shape, as a
    /// unary function; nil for any other Pow and for the other binary ops.
    init?(_ c: DerivativeContext, constantPower op: BinaryOperator) {
        guard case .arithmetic(.pow) = op.function, !op.integerDivision, c.constantInputs.count >= 2,
              c.constantInputs[0] == nil, let exponent = c.constantInputs[1], op.bShape.reduce(1, *) == 1,
              op.aShape == c.outputTypes[0].shape
        else { return nil }
        kind = .power(exponent.pointee)
        count = c.outputTypes[0].count
        factors = PrimalFactors(count: count, arrays: 2)
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
        case .geluTanh:
            // f = x/2 (1 + tanh u), u = c (x + 0.044715 x³), c = √(2/π).
            let c: Float = 0.797_884_56, a: Float = 0.044_715
            let t = Foundation.tanh(c * (x + a * x * x * x)), sech2 = 1 - t * t
            let du = c * (1 + 3 * a * x * x), d2u = c * 6 * a * x
            return (0.5 * (1 + t) + 0.5 * x * sech2 * du, sech2 * du + 0.5 * x * sech2 * (d2u - 2 * t * du * du))
        case .erf:
            let d = 1.128_379_2 * Foundation.exp(-x * x)
            return (d, -2 * x * d)
        case .tanh:
            return (1 - y * y, -2 * y * (1 - y * y))
        case .sigmoid:
            let d = y * (1 - y)
            return (d, d * (1 - 2 * y))
        case .exp:
            return (y, y)
        case .log:
            return (1 / x, -1 / (x * x))
        case .sqrt:
            return (0.5 / y, -0.25 / (y * x))
        case .neg:
            return (-1, 0)
        case .abs:
            return (x > 0 ? 1 : (x < 0 ? -1 : 0), 0)
        case .reciprocal:
            return (-y * y, 2 * y * y * y)
        case .sin:
            return (Foundation.cos(x), -y)
        case .cos:
            return (-Foundation.sin(x), -y)
        case .softplus:
            let s = 1 / (1 + Foundation.exp(-x))
            return (s, s * (1 - s))
        case .softsign:
            let d = 1 / (1 + Swift.abs(x))
            return (d * d, (x > 0 ? -2 : (x < 0 ? 2 : 0)) * d * d * d)
        case .hardSwish:
            // x · clamp(x/6 + 1/2, 0, 1): x²/6 + x/2 on (-3, 3).
            if x <= -3 { return (0, 0) }
            if x >= 3 { return (1, 0) }
            return (x / 3 + 0.5, 1.0 / 3)
        case .mish:
            // f = x·t, t = tanh(sp), sp = softplus(x), sp' = s = sigmoid(x), t' = (1 − t²)·s:
            // f' = t + x·(1 − t²)·s, f'' = (1 − t²)·s·(2 + x·(1 − s) − 2x·t·s).
            let s = 1 / (1 + Foundation.exp(-x))
            let t = Foundation.tanh(x > 20 ? x : Foundation.log1p(Foundation.exp(x)))
            let u = (1 - t * t) * s
            return (t + x * u, u * (2 + x * (1 - s) - 2 * x * t * s))
        case .celu(let alpha):
            // α(e^(x/α) − 1) below 0: f' = e^(x/α) = y/α + 1, f'' = f'/α.
            if x > 0 { return (1, 0) }
            let e = Foundation.exp(x / alpha)
            return (e, e / alpha)
        case .shrink(let lambda):
            // Slope 1 outside [−λ, λ] (the bias only shifts), 0 inside, the flat piece at the joints.
            return (x < -lambda || x > lambda ? 1 : 0, 0)
        case .thresholdedRelu(let alpha):
            return (x > alpha ? 1 : 0, 0)
        case .identity:
            return (1, 0)
        case .zero:
            return (0, 0)
        case .leakyRelu(let alpha):
            return (x > 0 ? 1 : alpha, 0)
        case .elu(let alpha):
            return x > 0 ? (1, 0) : (y + alpha, y + alpha)
        case .selu(let alpha, let gamma):
            return x > 0 ? (gamma, 0) : (y + gamma * alpha, y + gamma * alpha)
        case .hardSigmoid(let alpha, let beta):
            let z = alpha * x + beta
            return (z > 0 && z < 1 ? alpha : 0, 0)
        case .clip(let low, let high):
            return (x >= low && x <= high ? 1 : 0, 0)
        case .power(let p):
            if p == 1 { return (1, 0) }
            if p == 2 { return (2 * x, 2) }
            return (p * Foundation.pow(x, p - 1), p * (p - 1) * Foundation.pow(x, p - 2))
        }
    }

    /// Also keeps f'(x) and g·f''(x) for the tangent passes that follow (`factors`).
    func backward(_ d: DerivativeIO) {
        guard let xs = d.inputs[0] else { return }
        let y = d.outputs[0], g = d.outputGrads[0], gx = d.inputGrad(0)
        let first = factors[0], second = factors[1]
        for i in 0..<count {
            let (f1, f2) = derivatives(xs[i], y[i])
            first[i] = f1
            second[i] = (g?[i] ?? 0) * f2
            if let g, let gx { gx[i] += g[i] * f1 }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        accumulateProbeTerms(out, ProbeTerm(.elementwise(factors[0]), tx), count: count, probes: d.probes, threads: d.threads)
    }

    /// d x̄ = f'·d ȳ + (ȳ f'')·ẋ.
    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0) else { return }
        let tg = d.outputTangentGrads[0], tx = d.inputTangent(0)
        let first = tg.map { ProbeTerm(.elementwise(factors[0]), $0) }
        let second = (kind.isPiecewiseLinear || d.outputGrads[0] == nil) ? nil : tx.map { ProbeTerm(.elementwise(factors[1]), $0) }
        if let term = first ?? second {
            accumulateProbeTerms(tgx, term, first == nil ? nil : second, count: count, probes: d.probes, threads: d.threads)
        }
    }
}

/// PRelu, y = x < 0 ? slope·x : x with a constant slope broadcast to x's shape: f' is the slope or 1
/// (the right piece at 0, as the forward), f'' = 0.
struct PReluDerivative: DerivativeRule {
    let count: Int
    /// The slope of each element (broadcast once).
    let slope: [Float]
    /// f'(x) of the last `backward`, for the tangent passes after it.
    let factors: PrimalFactors

    init(_ c: DerivativeContext, _ op: PReluOperator) throws {
        guard c.constantInputs.count > 1, let slope = c.constantInputs[1] else { throw c.failure("reverse mode needs a constant slope") }
        let shape = c.outputTypes[0].shape
        count = c.outputTypes[0].count
        var expanded = [Float](repeating: 0, count: count)
        BroadcastLoop.forEach(shape: shape, strides: [op.slopeStrides]) { i, o in expanded[i] = slope[o[0]] }
        self.slope = expanded
        factors = PrimalFactors(count: count, arrays: 1)
    }

    func backward(_ d: DerivativeIO) {
        guard let x = d.inputs[0] else { return }
        let first = factors[0], g = d.outputGrads[0], gx = d.inputGrad(0)
        for i in 0..<count {
            first[i] = x[i] < 0 ? slope[i] : 1
            if let g, let gx { gx[i] += g[i] * first[i] }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        accumulateProbeTerms(out, ProbeTerm(.elementwise(factors[0]), tx), count: count, probes: d.probes, threads: d.threads)
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tgx = d.inputTangentGrad(0), let tg = d.outputTangentGrads[0] else { return }
        accumulateProbeTerms(tgx, ProbeTerm(.elementwise(factors[0]), tg), count: count, probes: d.probes, threads: d.threads)
    }
}

/// Per-element factors a rule computes from the primal values in `backward` and reads in the
/// tangent passes after it (a reference: rules are values, the buffers outlive each call).
/// `arrays` buffers of `count` floats, zero until the first `backward`.
final class PrimalFactors {
    private let buffers: [UnsafeMutablePointer<Float>]

    init(count: Int, arrays: Int) {
        buffers = (0..<arrays).map { _ in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            buffer.initialize(repeating: 0, count: max(count, 1))
            return buffer
        }
    }

    deinit { for buffer in buffers { buffer.deallocate() } }

    subscript(index: Int) -> UnsafeMutablePointer<Float> { buffers[index] }
}

struct BinaryDerivative: DerivativeRule {
    let op: BinaryOp
    let shape: [Int]
    let strides: [[Int]]
    let counts: (a: Int, b: Int, out: Int)
    /// The vectorised form of the tangent rules, when the operands allow one (nil: broadcast loops).
    let fastPath: FastPath?

    /// Shapes whose tangent rules are sums of probe terms (`accumulateProbeTerms`).
    enum FastPath {
        /// Add, Sub or Mul of two operands of the output's shape.
        case sameShape
        /// One operand (`constant`) is a compile-time constant; the other has the output's shape
        /// and its tangent (and tangent adjoint) is `factor` times the output's: ±1 for Add/Sub,
        /// the constant broadcast for Mul, its reciprocal for a division by it.
        case constant(index: Int, factor: ProbeCoefficient, storage: PrimalFactors?)
    }

    init(_ c: DerivativeContext, _ binary: BinaryOperator) throws {
        guard case .arithmetic(let op) = binary.function, op != .pow, !binary.integerDivision else {
            throw c.failure("has no backward (only Add, Sub, Mul and Div of floats, and Pow with a constant scalar exponent, are differentiable here)")
        }
        self.op = op
        shape = c.outputTypes[0].shape
        strides = [Shapes.broadcastStrides(binary.aShape, to: shape), Shapes.broadcastStrides(binary.bShape, to: shape)]
        counts = (binary.aShape.reduce(1, *), binary.bShape.reduce(1, *), shape.reduce(1, *))
        fastPath = Self.fastPath(op, c, aShape: binary.aShape, bShape: binary.bShape, outShape: shape)
    }

    private static func fastPath(_ op: BinaryOp, _ c: DerivativeContext, aShape: [Int], bShape: [Int], outShape: [Int]) -> FastPath? {
        let constants = c.constantInputs.count >= 2 ? [c.constantInputs[0], c.constantInputs[1]] : [nil, nil]
        let full = [aShape == outShape, bShape == outShape]
        if constants[0] == nil, constants[1] == nil, full[0], full[1], op != .div { return .sameShape }
        guard let k = [1, 0].first(where: { constants[$0] != nil }), constants[1 - k] == nil, full[1 - k],
              let values = constants[k] else { return nil }
        let kShape = k == 0 ? aShape : bShape
        switch op {
        case .add: return .constant(index: k, factor: .scalar(1), storage: nil)
        case .sub: return .constant(index: k, factor: .scalar(k == 1 ? 1 : -1), storage: nil)
        case .mul, .div:
            if op == .div && k == 0 { return nil }
            let count = outShape.reduce(1, *)
            if kShape.reduce(1, *) == 1 {
                return .constant(index: k, factor: .scalar(op == .mul ? values[0] : 1 / values[0]), storage: nil)
            }
            // The constant broadcast to the output's shape (its reciprocal for a division).
            let storage = PrimalFactors(count: count, arrays: 1)
            let target = storage[0], reciprocal = op == .div
            BroadcastLoop.forEach(shape: outShape, strides: [Shapes.broadcastStrides(kShape, to: outShape)]) { i, o in
                target[i] = reciprocal ? 1 / values[o[0]] : values[o[0]]
            }
            return .constant(index: k, factor: .elementwise(storage[0]), storage: storage)
        default:
            return nil
        }
    }

    /// False when a "constant" operand carries a tangent after all (a quantizable weight read by
    /// this op too): the broadcast loops handle that.
    private func fastPathApplies(_ path: FastPath, _ d: DerivativeIO) -> Bool {
        guard case .constant(let k, _, _) = path else { return true }
        return d.inputTangent(k) == nil && d.inputTangentGrad(k) == nil
    }

    /// The tangent by `fastPath`.
    private func fastTangent(_ path: FastPath, _ d: DerivativeIO, out: UnsafeMutablePointer<Float>) {
        let n = counts.out, probes = d.probes, threads = d.threads
        switch path {
        case .sameShape:
            let ta = d.inputTangent(0), tb = d.inputTangent(1)
            let terms: [ProbeTerm]
            switch op {
            case .add, .sub:
                terms = [ta.map { ProbeTerm(.scalar(1), $0) }, tb.map { ProbeTerm(.scalar(op == .add ? 1 : -1), $0) }].compactMap { $0 }
            default:
                terms = [ta.map { ProbeTerm(.elementwise(d.input(1)), $0) }, tb.map { ProbeTerm(.elementwise(d.input(0)), $0) }]
                    .compactMap { $0 }
            }
            if let first = terms.first {
                accumulateProbeTerms(out, first, terms.count > 1 ? terms[1] : nil, count: n, probes: probes, threads: threads)
            }
        case .constant(let k, let factor, _):
            guard let t = d.inputTangent(1 - k) else { return }
            accumulateProbeTerms(out, ProbeTerm(factor, t), count: n, probes: probes, threads: threads)
        }
    }

    /// The tangent backward by `fastPath`.
    private func fastTangentBackward(_ path: FastPath, _ d: DerivativeIO) {
        let n = counts.out, probes = d.probes, threads = d.threads
        let tg = d.outputTangentGrads[0], g = d.outputGrads[0]
        switch path {
        case .sameShape:
            for side in 0..<2 {
                guard let target = d.inputTangentGrad(side) else { continue }
                switch op {
                case .add, .sub:
                    if let tg {
                        accumulateProbeTerms(target, ProbeTerm(.scalar(side == 1 && op == .sub ? -1 : 1), tg),
                                             count: n, probes: probes, threads: threads)
                    }
                default:
                    // d ā = d ḡ·b + g·ḃ (and symmetrically for b).
                    let first = tg.map { ProbeTerm(.elementwise(d.input(1 - side)), $0) }
                    let second = g.flatMap { g in d.inputTangent(1 - side).map { ProbeTerm(.elementwise(g), $0) } }
                    if let term = first ?? second {
                        accumulateProbeTerms(target, term, first == nil ? nil : second, count: n, probes: probes, threads: threads)
                    }
                }
            }
        case .constant(let k, let factor, _):
            guard let tg, let target = d.inputTangentGrad(1 - k) else { return }
            accumulateProbeTerms(target, ProbeTerm(factor, tg), count: n, probes: probes, threads: threads)
        }
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
        if let fastPath, fastPathApplies(fastPath, d) { return fastTangent(fastPath, d, out: out) }
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
        if let fastPath, fastPathApplies(fastPath, d) { return fastTangentBackward(fastPath, d) }
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
