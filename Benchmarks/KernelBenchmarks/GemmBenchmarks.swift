import Benchmark
import Kernels

/// `C = A·B` inputs for one shape; `c` (room for `outputs` products) is overwritten by every call.
final class GemmOperands {
    let m, n, k: Int
    let transB: Bool
    let a, b: [Float]
    var c: [Float]

    init(m: Int, n: Int, k: Int, transB: Bool, outputs: Int = 1, rng: inout BenchmarkRNG) {
        (self.m, self.n, self.k, self.transB) = (m, n, k, transB)
        a = rng.floats(m * k)
        b = rng.floats(k * n)
        c = [Float](repeating: 0, count: outputs * m * n)
    }

    var flops: Double { 2 * Double(m * n * k) }
    var ldb: Int { transB ? k : n }
}

/// The GEMM shapes of the sample models' layers (batch 256, 64 and 32 and single samples, im2col
/// convolutions, `transB` for Gemm nodes) and two large squares, on one and two threads; for
/// `m <= 256` also against B packed once beforehand, as the executor holds a layer's weights.
/// Then two independent 512³ products at once, one per thread: how far the two cores scale when
/// nothing is shared.
func registerGemmBenchmarks() {
    let shapes: [(m: Int, n: Int, k: Int, transB: Bool)] = [
        (512, 512, 512, false), (256, 784, 256, false), (256, 256, 784, false), (256, 256, 784, true),
        (256, 10, 256, true), (1, 256, 784, false), (1, 256, 784, true), (64, 784, 288, false),
        (64, 196, 576, false), (32, 784, 288, false), (1024, 1024, 1024, false), (32, 784, 9, false),
        (64, 196, 32, false), (64, 49, 576, false),
    ]
    for shape in shapes {
        let name = "sgemm m=\(shape.m) n=\(shape.n) k=\(shape.k) transB=\(shape.transB)"
        let makeOperands = {
            var rng = BenchmarkRNG(seed: 1)
            return GemmOperands(m: shape.m, n: shape.n, k: shape.k, transB: shape.transB, rng: &rng)
        }
        for threads in [1, 2] {
            Benchmark("\(name) \(threads)T", configuration: .kernel([megaflopsPerSecond])) { (benchmark: Benchmark, g: GemmOperands) in
                timed(benchmark, flops: g.flops) {
                    sgemm(m: g.m, n: g.n, k: g.k, a: g.a, lda: g.k, transA: false, b: g.b, ldb: g.ldb, transB: g.transB,
                          c: &g.c, ldc: g.n, threads: threads)
                }
            } setup: {
                makeOperands()
            }
        }
        guard shape.m <= 256 else { continue }
        for threads in [1, 2] {
            Benchmark("\(name) prepacked B \(threads)T", configuration: .kernel([megaflopsPerSecond])) { (benchmark: Benchmark, setup: (GemmOperands, PackedMatrix)) in
                let (g, packed) = setup
                timed(benchmark, flops: g.flops) {
                    sgemm(m: g.m, a: g.a, lda: g.k, transA: false, packedB: packed, c: &g.c, ldc: g.n, threads: threads)
                }
            } setup: {
                let g = makeOperands()
                return (g, PackedMatrix(b: g.b, ldb: g.ldb, transB: g.transB, k: g.k, n: g.n))
            }
        }
    }

    for threads in [1, 2] {
        Benchmark("independent sgemm 512x512x512 x\(threads)", configuration: .kernel([megaflopsPerSecond])) { (benchmark: Benchmark, g: GemmOperands) in
            g.c.withUnsafeMutableBufferPointer { products in
                let output = products.baseAddress!
                timed(benchmark, flops: Double(threads) * g.flops) {
                    Parallel.forEach(threads, threads: threads) { i in
                        sgemm(m: g.m, n: g.n, k: g.k, a: g.a, lda: g.k, transA: false, b: g.b, ldb: g.n, transB: false,
                              c: output + i * g.m * g.n, ldc: g.n, threads: 1)
                    }
                }
            }
        } setup: {
            var rng = BenchmarkRNG(seed: 1)
            return GemmOperands(m: 512, n: 512, k: 512, transB: false, outputs: 2, rng: &rng)
        }
    }
}
