import Testing
import Kernels

/// `narrowGemm` against a Double reference, over the shapes the tangent passes, a transformer's
/// projections and an MLP's first layer give it and the edges of its tiling (row tails,
/// 16/32/48/64-column slices, N > 64, K = 1, K deeper than one block of `narrowGemmDepth`). With
/// two threads 64 and 27 rows end each thread on a 4- and a 3-row tile.
@Suite("narrow GEMM")
struct NarrowGemmTests {
    @Test(arguments: [(1, 16, 1), (7, 64, 64), (48, 64, 64), (131, 128, 64), (97, 48, 33), (53, 256, 200), (13, 80, 512),
                            (50, 256, 784), (19, 48, 1100), (2, 16, 513),
                            (64, 64, 600), (27, 128, 40)])
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

    /// A kept `NarrowGemmOperand` gives the unpacked call's result bit for bit (alpha folded into
    /// the copy alike), one K block or several, and can be reused.
    @Test(arguments: [(61, 128, 256), (256, 256, 784), (7, 80, 1025), (48, 16, 1)])
    func keptOperandMatchesUnpackedCall(_ m: Int, _ n: Int, _ k: Int) {
        var rng = TestRNG(seed: UInt64(m * 31 + n * 7 + k))
        let a = rng.floats(m * k), b = rng.floats(n * k), bias = rng.floats(n), c0 = rng.floats(m * n)
        for (alpha, beta, relu) in [(Float(1), Float(0), true), (0.75, 0.5, false)] {
            var unpacked = c0, kept = c0, again = c0
            a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in bias.withUnsafeBufferPointer { biasp in
                narrowGemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, b: bp.baseAddress!, ldb: k, transB: true,
                           c: &unpacked, ldc: n, alpha: alpha, beta: beta, columnBias: biasp.baseAddress!, relu: relu)
                let operand = NarrowGemmOperand(b: bp.baseAddress!, ldb: k, transB: true, k: k, n: n, alpha: alpha)
                narrowGemm(m: m, a: ap.baseAddress!, lda: k, b: operand, c: &kept, ldc: n, beta: beta,
                           columnBias: biasp.baseAddress!, relu: relu, threads: 2)
                narrowGemm(m: m, a: ap.baseAddress!, lda: k, b: operand, c: &again, ldc: n, beta: beta,
                           columnBias: biasp.baseAddress!, relu: relu, threads: 1)
            } } }
            #expect(kept == unpacked, "m \(m) n \(n) k \(k) alpha \(alpha)")
            #expect(again == unpacked, "m \(m) n \(n) k \(k) alpha \(alpha), second use, one thread")
        }
    }

    @Test func appliesOnlyToWholeVectorWidths() {
        #expect(narrowGemmApplies(n: 64, k: 64))
        #expect(narrowGemmApplies(n: 256, k: 512))
        #expect(narrowGemmApplies(n: 256, k: 784))
        #expect(!narrowGemmApplies(n: 10, k: 64))
        #expect(!narrowGemmApplies(n: 272, k: 64))
        #expect(!narrowGemmApplies(n: 64, k: 0))
        // Copying B on every call was measured to pay only up to one K block; a kept operand deeper.
        #expect(narrowGemmPaysOff(m: 48, n: 64, k: 512))
        #expect(!narrowGemmPaysOff(m: 48, n: 64, k: 513))
        #expect(!narrowGemmPaysOff(m: 47, n: 64, k: 64))
        #expect(narrowGemmPaysOffWithKeptOperand(m: 256, n: 256, k: 784))
        #expect(!narrowGemmPaysOffWithKeptOperand(m: 256, n: 10, k: 784))
    }
}
