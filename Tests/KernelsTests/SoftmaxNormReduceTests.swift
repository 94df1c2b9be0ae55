#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Kernels
import Testing

@Suite struct SoftmaxTests {
    @Test(arguments: [
        (1, 1, 1), (3, 10, 1), (2, 1000, 1), (4, 7, 5), (2, 33, 17), (1, 5, 16), (300, 129, 1), (0, 4, 1),
        // Short rows 16 at a time (plus leftover rows on the row path): attention over 17 tokens.
        (16, 1, 1), (37, 17, 1), (1088, 17, 1), (50, 31, 1), (33, 2, 1),
    ])
    func softmaxAndLogSoftmax(outer: Int, len: Int, inner: Int) {
        var rng = TestRNG(seed: UInt64(outer * 1000 + len))
        let count = outer * len * inner
        var x = rng.floats(count, -20, 20)
        if count > 3 { x[2] = 80 }  // large value: naive exp would overflow
        var y = [Float](repeating: 0, count: count)
        var ly = y
        softmax(input: x, output: &y, outer: outer, axisLength: len, inner: inner, threads: 2)
        logSoftmax(input: x, output: &ly, outer: outer, axisLength: len, inner: inner, threads: 2)
        var want = [Double](repeating: 0, count: count)
        var lwant = want
        for o in 0..<outer {
            for j in 0..<inner {
                var m = -Double.infinity
                for i in 0..<len { m = max(m, Double(x[(o * len + i) * inner + j])) }
                // x - max is rounded to float as any float softmax (ONNX Runtime's too) must: that
                // rounding alone moves exp by up to |x - max| * 6e-8 relative, so the reference
                // takes it as given and checks the rest.
                let shifted = (0..<len).map { Double(x[(o * len + $0) * inner + j] - Float(m)) }
                var s = 0.0
                for i in 0..<len { s += exp(shifted[i]) }
                for i in 0..<len {
                    let v = shifted[i]
                    want[(o * len + i) * inner + j] = exp(v) / s
                    lwant[(o * len + i) * inner + j] = v - log(s)
                }
            }
        }
        // exp within 2e-7 plus summation and division: 1e-6 relative, 1e-30 absolute (underflow).
        #expect(toleranceRatio(y, want, rtol: 1e-6, atol: 1e-30) <= 1)
        #expect(toleranceRatio(ly, lwant, rtol: 1e-6, atol: 1e-5) <= 1)
    }
}

@Suite struct LayerNormTests {
    @Test(arguments: [1, 7, 16, 64, 100, 257, 768, 1024])
    func matchesDoubleReference(cols: Int) {
        var rng = TestRNG(seed: UInt64(cols))
        let rows = 5
        // Offset mean and moderate spread: stresses cancellation in the variance.
        let x = rng.floats(rows * cols, -1, 1).map { $0 * 3 + 10 }
        let scale = rng.floats(cols, 0.5, 1.5)
        let bias = rng.floats(cols)
        for (useScale, useBias) in [(true, true), (false, false)] {
            var y = [Float](repeating: 0, count: rows * cols)
            scale.withUnsafeBufferPointer { sp in
                bias.withUnsafeBufferPointer { bp in
                    layerNorm(
                        input: x, output: &y, rows: rows, cols: cols, scale: useScale ? sp.baseAddress : nil,
                        bias: useBias ? bp.baseAddress : nil, epsilon: 1e-5, threads: 2)
                }
            }
            var want = [Double](repeating: 0, count: rows * cols)
            for r in 0..<rows {
                let row = (0..<cols).map { Double(x[r * cols + $0]) }
                let mean = row.reduce(0, +) / Double(cols)
                let v = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
                for j in 0..<cols {
                    var o = (row[j] - mean) / (v + 1e-5).squareRoot()
                    if useScale { o *= Double(scale[j]) }
                    if useBias { o += Double(bias[j]) }
                    want[r * cols + j] = o
                }
            }
            // 1e-5 relative; absolute floor 1e-5 for outputs near zero (x == mean).
            #expect(toleranceRatio(y, want, rtol: 1e-5, atol: 1e-5) <= 1, "cols \(cols)")
        }
    }
}

@Suite struct ReduceTests {
    @Test(arguments: [
        (1, 1, 1), (3, 100, 1), (2, 1000, 1), (4, 7, 5), (2, 33, 17), (3, 0, 4), (200, 300, 1), (2, 5, 40),
    ])
    func allOps(outer: Int, len: Int, inner: Int) {
        var rng = TestRNG(seed: UInt64(outer + len * 7 + inner * 13))
        let x = rng.floats(outer * len * inner, 0.9, 1.1).map { $0 * (rng.next() % 2 == 0 ? 1 : -1) }
        for op in [ReduceOp.sum, .mean, .max, .min, .prod, .sumSquare, .l2, .l1] {
            var y = [Float](repeating: .nan, count: outer * inner)
            reduce(op, input: x, output: &y, outer: outer, reduceLength: len, inner: inner, threads: 2)
            var want = [Double](repeating: 0, count: outer * inner)
            for o in 0..<outer {
                for j in 0..<inner {
                    let v = (0..<len).map { Double(x[(o * len + $0) * inner + j]) }
                    switch op {
                    case .sum: want[o * inner + j] = v.reduce(0, +)
                    case .mean: want[o * inner + j] = len == 0 ? .nan : v.reduce(0, +) / Double(len)
                    case .max: want[o * inner + j] = v.max() ?? -.infinity
                    case .min: want[o * inner + j] = v.min() ?? .infinity
                    case .prod: want[o * inner + j] = v.reduce(1, *)
                    case .sumSquare: want[o * inner + j] = v.map { $0 * $0 }.reduce(0, +)
                    case .l2: want[o * inner + j] = v.map { $0 * $0 }.reduce(0, +).squareRoot()
                    case .l1: want[o * inner + j] = v.map { Swift.abs($0) }.reduce(0, +)
                    }
                }
            }
            // Partial sums: error ~ (len / 16) ulps of the sum of |terms|; prod ~ len ulps.
            let rtol = 2e-7 * Double(max(len, 16))
            #expect(toleranceRatio(y, want, rtol: rtol, atol: rtol * 1.2 * Double(len)) <= 1, "\(op)")
        }
    }

    @Test func argmaxFirstOfTiesSkipsNaN() {
        let x: [Float] = [1, 3, 3, 2, .nan, -1, -5, -1, -.infinity, .nan, -.infinity, -.infinity]
        var out = [Int](repeating: -1, count: 4)
        argmax(input: x, rows: 4, cols: 3, output: &out)
        #expect(out == [1, 0, 1, 1])
        var rng = TestRNG(seed: 5)
        let r = rng.floats(50 * 37)
        var got = [Int](repeating: -1, count: 50)
        argmax(input: r, rows: 50, cols: 37, output: &got)
        let want = (0..<50).map { i in (0..<37).max { r[i * 37 + $0] < r[i * 37 + $1] }! }
        #expect(got == want)
    }
}
