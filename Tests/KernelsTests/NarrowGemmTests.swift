import Testing
import Kernels

/// `narrowGemm` against a Double reference, over the shapes the tangent passes and a transformer's
/// projections give it and the edges of its tiling (row tails, 16/32/48/64-column slices, N > 64).
@Suite("narrow GEMM")
struct NarrowGemmTests {
    @Test(arguments: [(1, 16, 1), (7, 64, 64), (48, 64, 64), (131, 128, 64), (97, 48, 33), (53, 256, 200), (13, 80, 512)])
    func matchesReference(_ m: Int, _ n: Int, _ k: Int) {
        var rng = TestRNG(seed: UInt64(m * 1000 + n * 7 + k))
        let lda = k + 3, ldc = n + 5
        let a = rng.floats(m * lda), b = rng.floats(k * n), bias = rng.floats(n), c0 = rng.floats(m * ldc)
        for transB in [false, true] {
            for (alpha, beta, withBias, relu) in [(Float(1), Float(0), false, false), (0.5, 1, true, true), (1, -2, true, false)] {
                for threads in [1, 2] {
                    var c = c0
                    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in bias.withUnsafeBufferPointer { biasp in
                        c.withUnsafeMutableBufferPointer { cp in
                            narrowGemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: transB ? k : n,
                                       transB: transB, c: cp.baseAddress!, ldc: ldc, alpha: alpha, beta: beta,
                                       columnBias: withBias ? biasp.baseAddress! : nil, relu: relu, threads: threads)
                        }
                    } } }
                    var worst = 0.0
                    for i in 0..<m {
                        for j in 0..<n {
                            var sum = 0.0
                            for p in 0..<k { sum += Double(a[i * lda + p]) * Double(transB ? b[j * k + p] : b[p * n + j]) }
                            var want = Double(alpha) * sum + Double(beta) * Double(c0[i * ldc + j]) + (withBias ? Double(bias[j]) : 0)
                            if relu { want = max(want, 0) }
                            worst = max(worst, abs(Double(c[i * ldc + j]) - want))
                        }
                        // Padding between rows of C is never written.
                        for j in n..<ldc { #expect(c[i * ldc + j] == c0[i * ldc + j]) }
                    }
                    // k float32 FMAs of terms <= 1, plus the epilogue's roundings.
                    #expect(worst <= 1e-6 * Double(k + 4), "m \(m) n \(n) k \(k) transB \(transB) alpha \(alpha) beta \(beta): \(worst)")
                }
            }
        }
    }

    @Test func appliesOnlyToWholeVectorWidths() {
        #expect(narrowGemmApplies(n: 64, k: 64))
        #expect(narrowGemmApplies(n: 256, k: 512))
        #expect(!narrowGemmApplies(n: 10, k: 64))
        #expect(!narrowGemmApplies(n: 272, k: 64))
        #expect(!narrowGemmApplies(n: 64, k: 513))
    }
}
