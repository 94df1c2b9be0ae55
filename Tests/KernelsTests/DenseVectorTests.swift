import Testing
import Kernels

@Suite("Dense vectors")
struct DenseVectorTests {
    /// Odd lengths cover the 16-lane body, the scalar tail and several 1024-element blocks.
    @Test(arguments: [0, 1, 15, 16, 17, 1023, 1024, 1025, 70_001])
    func dotProductMatchesDoubleReference(_ count: Int) {
        var rng = TestRNG(seed: UInt64(count) + 1)
        let a = rng.floats(count), b = rng.floats(count)
        let want = zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let got = dotProduct(a, b, count: count)
        // Float32 partial sums of at most 1024 products in 16 lanes: 64 terms per lane, each |ab| <= 1.
        let bound = 1e-6 * 64 * Double((count + 1023) / 1024) + 1e-12
        #expect(abs(got - want) <= bound, "count \(count): \(got) vs \(want)")
    }

    @Test(arguments: [(0, 1), (5, 1), (33, 2), (200_003, 2)])
    func addInPlaceAddsEveryElement(_ count: Int, _ threads: Int) {
        var rng = TestRNG(seed: 7)
        let source = rng.floats(count)
        var target = rng.floats(count)
        let want = zip(target, source).map { $0 + $1 }
        target.withUnsafeMutableBufferPointer { t in
            source.withUnsafeBufferPointer { s in
                if count > 0 { addInPlace(t.baseAddress!, s.baseAddress!, count: count, threads: threads) }
            }
        }
        #expect(target == want)
    }
}
