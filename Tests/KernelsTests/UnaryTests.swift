#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Kernels
import Testing

/// Double-precision references.
private func reference(_ op: UnaryOp, _ x: Double) -> Double {
    switch op {
    case .relu: return max(x, 0)
    case .leakyRelu(let a): return x >= 0 ? x : Double(a) * x
    case .sigmoid: return 1 / (1 + Glibc.exp(-x))
    case .tanh: return Glibc.tanh(x)
    case .erf: return Glibc.erf(x)
    case .gelu: return 0.5 * x * Glibc.erfc(-x / 2.0.squareRoot())
    case .geluTanh:
        let y = (2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + Glibc.tanh(y))
    case .sqrt: return x.squareRoot()
    case .exp: return Glibc.exp(x)
    case .log: return Glibc.log(x)
    case .neg: return -x
    case .abs: return Swift.abs(x)
    case .reciprocal: return 1 / x
    case .clip(let lo, let hi): return min(max(x, Double(lo)), Double(hi))
    case .hardSigmoid(let a, let b): return min(max(Double(a) * x + Double(b), 0), 1)
    case .softplus: return x > 0 ? x + Glibc.log1p(Glibc.exp(-x)) : Glibc.log1p(Glibc.exp(x))
    case .hardSwish: return x * min(max(x / 6 + 0.5, 0), 1)
    }
}

/// Inputs: a dense uniform grid over [lo, hi], plus values spread over the float exponent range
/// inside [lo, hi], plus signed zeros.
private func sweep(_ lo: Float, _ hi: Float, count: Int = 400_003) -> [Float] {
    var xs = (0..<count).map { lo + (hi - lo) * Float($0) / Float(count - 1) }
    var e: Float = 1e-30
    while e < 1e30 {
        for m: Float in [1, 1.37, 2.9, 6.1] {
            for v in [e * m, -e * m] where v >= lo && v <= hi { xs.append(v) }
        }
        e *= 10
    }
    xs += [0, -0.0]
    return xs
}

/// Worst |got - want| / max(2e-7 |want|, 1e-7): <= 1 is the stated accuracy.
private func worstError(_ op: UnaryOp, _ xs: [Float]) -> (ratio: Double, at: Float) {
    var out = [Float](repeating: 0, count: xs.count)
    unary(op, input: xs, output: &out, count: xs.count)
    var worst = (0.0, Float(0))
    for i in xs.indices {
        let want = reference(op, Double(xs[i]))
        let got = Double(out[i])
        if want.isNaN || got.isNaN {
            if want.isNaN != got.isNaN { return (.infinity, xs[i]) }
            continue
        }
        // Compare overflow in float terms: exp(88.723) is finite in Double but not in Float.
        if Float(want).isInfinite || got.isInfinite {
            if Double(Float(want)) != got { return (.infinity, xs[i]) }
            continue
        }
        let r = Swift.abs(got - want) / max(2e-7 * Swift.abs(want), 1e-7)
        if r > worst.0 { worst = (r, xs[i]) }
    }
    return worst
}

@Suite struct UnaryTests {
    static let cases: [(UnaryOp, Float, Float)] = [
        (.exp, -110, 90), (.log, 0, 3e38), (.sigmoid, -120, 120), (.tanh, -30, 30), (.erf, -10, 10),
        (.gelu, -30, 30), (.geluTanh, -30, 30), (.softplus, -120, 120), (.relu, -5, 5),
        (.leakyRelu(alpha: 0.01), -5, 5), (.sqrt, 0, 1e30), (.neg, -9, 9), (.abs, -9, 9),
        (.reciprocal, -1e10, 1e10), (.clip(min: -1, max: 6), -9, 9),
        (.hardSigmoid(alpha: 0.2, beta: 0.5), -9, 9), (.hardSwish, -9, 9),
    ]

    @Test(arguments: 0..<17)
    func accuracyAgainstDoubleReference(index: Int) {
        let (op, lo, hi) = Self.cases[index]
        let (ratio, at) = worstError(op, sweep(lo, hi))
        #expect(ratio <= 1, "\(op): worst error ratio \(ratio) at x = \(at)")
    }

    @Test func logOfSubnormalsAndSpecials() {
        let xs: [Float] = [
            .leastNonzeroMagnitude, 1e-40, 1e-39, .leastNormalMagnitude, .greatestFiniteMagnitude, .infinity, 0, -1,
            .nan, 1,
        ]
        let (ratio, at) = worstError(.log, xs)
        #expect(ratio <= 1, "log: \(ratio) at \(at)")
    }

    @Test func specialValues() {
        let xs: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 88.72, 88.73, -87.3, -100, -103.5, -200]
        for op in [UnaryOp.exp, .sigmoid, .tanh, .erf, .gelu, .geluTanh, .softplus] {
            let (ratio, at) = worstError(op, xs)
            #expect(ratio <= 1, "\(op): \(ratio) at \(at)")
        }
    }

    @Test(arguments: [0, 1, 15, 16, 17, 100_003, 300_000])
    func inPlaceMatchesOutOfPlaceAnyLength(count: Int) {
        var rng = TestRNG(seed: UInt64(count))
        let xs = rng.floats(count, -6, 6)
        for op in [UnaryOp.gelu, .tanh, .relu] {
            var out = [Float](repeating: .nan, count: count)
            unary(op, input: xs, output: &out, count: count, threads: 2)
            var inPlace = xs
            inPlace.withUnsafeMutableBufferPointer { unary(op, $0.baseAddress!, count: count, threads: 1) }
            #expect(out == inPlace)
            // Spot check against the reference so a no-op would fail.
            if count > 0 {
                let want = reference(op, Double(xs[count - 1]))
                #expect(Swift.abs(Double(out[count - 1]) - want) <= 1e-6)
            }
        }
    }
}
