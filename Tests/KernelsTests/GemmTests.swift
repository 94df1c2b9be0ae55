import Kernels
import Testing

/// Double-precision reference for C = alpha op(A) op(B) + beta C + epilogue, all row-major.
private func referenceGemm(
    m: Int, n: Int, k: Int, a: [Float], lda: Int, transA: Bool, b: [Float], ldb: Int, transB: Bool,
    c: [Float], ldc: Int, alpha: Float, beta: Float, bias: [Float]?, rowBias: Bool, relu: Bool
) -> [Double] {
    var out = c.map(Double.init)
    for i in 0..<m {
        for j in 0..<n {
            var acc = 0.0
            for p in 0..<k {
                let av = transA ? a[p * lda + i] : a[i * lda + p]
                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                acc += Double(av) * Double(bv)
            }
            var v = Double(alpha) * acc + (beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j]))
            if let bias { v += Double(rowBias ? bias[i] : bias[j]) }
            if relu { v = max(v, 0) }
            out[i * ldc + j] = v
        }
    }
    return out
}

/// Tolerance: float32 accumulation of k products of values in [-1, 1]; the error bound scales
/// like sqrt(k) ulps of the sum of |terms| (<= k), so atol = 2e-6 * k covers it with margin while a
/// single wrong term (error >= ~1e-3) fails.
private func check(
    m: Int, n: Int, k: Int, transA: Bool, transB: Bool, pad: Int = 0, alpha: Float = 1, beta: Float = 0,
    bias: Bool = false, rowBias: Bool = false, relu: Bool = false, threads: Int = 2, seed: UInt64 = 1
) -> Double {
    var rng = TestRNG(seed: seed)
    let lda = (transA ? m : k) + pad
    let ldb = (transB ? k : n) + pad
    let ldc = n + pad
    let a = rng.floats(max(1, (transA ? k : m) * lda))
    let b = rng.floats(max(1, (transB ? n : k) * ldb))
    var c = rng.floats(max(1, m * ldc))
    if beta == 0 { for i in c.indices where i % 7 == 0 { c[i] = .nan } }  // must not be read
    let biasValues = bias ? rng.floats(rowBias ? max(m, 1) : max(n, 1)) : nil
    let want = referenceGemm(
        m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB, c: c, ldc: ldc,
        alpha: alpha, beta: beta, bias: biasValues, rowBias: rowBias, relu: relu)
    let biasArray = biasValues ?? [0]
    biasArray.withUnsafeBufferPointer { bp in
        sgemm(
            m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB, c: &c, ldc: ldc,
            alpha: alpha, beta: beta,
            epilogue: GemmEpilogue(bias: bias ? bp.baseAddress : nil, biasAxis: rowBias ? .row : .column, relu: relu),
            threads: threads)
    }
    // Padding columns of C must be untouched: compare everything.
    var wantAll = want
    for i in 0..<m { for j in n..<ldc { wantAll[i * ldc + j] = Double(c[i * ldc + j]) } }
    return toleranceRatio(c, wantAll, rtol: 1e-5, atol: 2e-6 * Double(max(k, 1)))
}

@Suite struct GemmTests {
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (1, 256, 784), (1, 37, 300), (256, 1, 128), (7, 1, 13), (2, 2, 2), (12, 32, 1),
        (13, 33, 17), (11, 31, 257), (24, 64, 256), (37, 61, 300), (145, 97, 513), (200, 530, 70),
        (64, 784, 288), (3, 1000, 5), (1, 1000, 600), (700, 1, 800),  // last two: threaded vector paths
    ]

    @Test(arguments: 0..<17, [false, true])
    func shapesAndTransposes(index: Int, transA: Bool) {
        let (m, n, k) = Self.shapes[index]
        for transB in [false, true] {
            let r = check(m: m, n: n, k: k, transA: transA, transB: transB, seed: UInt64(index))
            #expect(r <= 1, "m=\(m) n=\(n) k=\(k) tA=\(transA) tB=\(transB) ratio=\(r)")
        }
    }

    @Test(arguments: [(1, 5, 9), (13, 40, 33), (100, 70, 300), (70, 1, 20)])
    func stridesAlphaBetaEpilogue(m: Int, n: Int, k: Int) {
        for (transA, transB) in [(false, false), (true, true), (false, true)] {
            for (rowBias, relu) in [(false, false), (true, true), (false, true)] {
                let r = check(
                    m: m, n: n, k: k, transA: transA, transB: transB, pad: 3, alpha: 0.75, beta: -0.5,
                    bias: true, rowBias: rowBias, relu: relu)
                #expect(r <= 1, "m=\(m) n=\(n) k=\(k) rowBias=\(rowBias) relu=\(relu) ratio=\(r)")
            }
        }
    }

    @Test func zeroSizes() {
        #expect(check(m: 5, n: 7, k: 0, transA: false, transB: false, beta: 0.5, bias: true, relu: true) <= 1)
        #expect(check(m: 5, n: 7, k: 0, transA: false, transB: false, beta: 0, bias: true, rowBias: true) <= 1)
        #expect(check(m: 0, n: 7, k: 3, transA: false, transB: false) <= 1)
        #expect(check(m: 4, n: 0, k: 3, transA: false, transB: false) <= 1)
        #expect(check(m: 9, n: 9, k: 9, transA: false, transB: false, alpha: 0, beta: 2) <= 1)
    }

    @Test func threadCountDoesNotChangeResult() {
        var rng = TestRNG(seed: 9)
        let (m, n, k) = (150, 333, 600)
        let a = rng.floats(m * k)
        let b = rng.floats(k * n)
        var c1 = [Float](repeating: 0, count: m * n)
        var c2 = c1
        sgemm(m: m, n: n, k: k, a: a, lda: k, transA: false, b: b, ldb: n, transB: false, c: &c1, ldc: n, threads: 1)
        sgemm(m: m, n: n, k: k, a: a, lda: k, transA: false, b: b, ldb: n, transB: false, c: &c2, ldc: n, threads: 2)
        #expect(c1 == c2)
    }
}

@Suite struct PackedMatrixTests {
    @Test(arguments: [
        (1, 256, 784), (1, 1000, 600), (1, 7, 3), (3, 33, 300), (12, 32, 256), (100, 70, 513), (256, 256, 784),
        (5, 1, 9), (4, 0, 3),
    ])
    func matchesUnpackedAndReference(m: Int, n: Int, k: Int) {
        var rng = TestRNG(seed: UInt64(m * 31 + n))
        for transB in [false, true] {
            let a = rng.floats(max(1, m * k))
            let b = rng.floats(max(1, k * n))
            let bias = rng.floats(max(1, n))
            let packed = PackedMatrix(b: b, ldb: max(1, transB ? k : n), transB: transB, k: k, n: n)
            var c1 = rng.floats(max(1, m * n))
            var c2 = c1
            let c0 = c1
            bias.withUnsafeBufferPointer { bp in
                let epi = GemmEpilogue(bias: bp.baseAddress, biasAxis: .column, relu: true)
                sgemm(
                    m: m, a: a, lda: max(1, k), transA: false, packedB: packed, c: &c1, ldc: max(1, n), beta: 0.5,
                    epilogue: epi, threads: 2)
                sgemm(
                    m: m, n: n, k: k, a: a, lda: max(1, k), transA: false, b: b, ldb: max(1, transB ? k : n),
                    transB: transB,
                    c: &c2, ldc: max(1, n), beta: 0.5, epilogue: epi, threads: 2)
            }
            if m >= 2 && n >= 2 { #expect(c1 == c2, "m=\(m) n=\(n) k=\(k) transB=\(transB)") }
            var want = [Double](repeating: 0, count: max(1, m * n))
            for i in 0..<m {
                for j in 0..<n {
                    var acc = 0.0
                    for p in 0..<k { acc += Double(a[i * k + p]) * Double(transB ? b[j * k + p] : b[p * n + j]) }
                    want[i * n + j] = max(0, acc + 0.5 * Double(c0[i * n + j]) + Double(bias[j]))
                }
            }
            if m * n == 0 { want = c0.map(Double.init) }
            #expect(toleranceRatio(c1, want, rtol: 1e-5, atol: 2e-6 * Double(max(k, 1))) <= 1, "m=\(m) n=\(n) k=\(k)")
        }
    }
}
