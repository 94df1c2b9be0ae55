import Testing
import Kernels

/// `smallGemm` against a double-precision reference, over the sizes attention produces and the
/// edges of its 4-row and 16/32-column paths.
@Suite("small GEMM")
struct SmallGemmTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [
        (1, 1, 1), (17, 17, 16), (17, 16, 17), (4, 16, 8), (5, 15, 3), (3, 32, 7), (9, 31, 64), (128, 20, 256),
        (8, 1, 0), (0, 5, 5), (7, 17, 1),
    ]

    @Test("matches the reference with padded strides", arguments: shapes.indices)
    func matchesReference(_ index: Int) {
        let (m, n, k) = Self.shapes[index]
        let lda = k + 3, ldb = n + 5, ldc = n + 2
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(index)
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(seed >> 40) % 2001 - 1000) / 500
        }
        let a = (0..<max(m * lda, 1)).map { _ in next() }
        let b = (0..<max(k * ldb, 1)).map { _ in next() }
        var c = [Float](repeating: -7, count: max(m * ldc, 1))
        var scratch = [Float](repeating: .nan, count: max(smallGemmScratchCount(n: n, k: k), 1))
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    scratch.withUnsafeMutableBufferPointer { s in
                        smallGemm(m: m, n: n, k: k, a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                                  c: c.baseAddress!, ldc: ldc, scratch: s.baseAddress!)
                    }
                }
            }
        }
        for i in 0..<m {
            for j in 0..<ldc {
                let got = c[i * ldc + j]
                if j >= n {
                    #expect(got == -7, "column \(j) past n was written")
                    continue
                }
                var want = 0.0
                for p in 0..<k { want += Double(a[i * lda + p]) * Double(b[p * ldb + j]) }
                #expect(abs(Double(got) - want) <= 1e-5 * Double(k) + 1e-6, "C[\(i),\(j)] = \(got), want \(want)")
            }
        }
    }
}
