import Benchmark
import Kernels

/// The sample CNN's stem (1 -> 32, 3x3 on 28x28, ReLU) and its 2x2/2 max pool at batch 256.
final class StemOperands {
    static let conv = Conv2DShape(batch: 256, inChannels: 1, inHeight: 28, inWidth: 28, outChannels: 32, kernelH: 3,
                                  kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
    static let pool = Pool2DShape(batch: 256, channels: 32, inHeight: 28, inWidth: 28, outHeight: 14, outWidth: 14,
                                  kernelH: 2, kernelW: 2, strideH: 2, strideW: 2)
    let input, weight, bias: [Float]
    let packed: PackedConvWeights
    /// The convolution's full output (25.7 MB) for the two-call way.
    var convolved: [Float]
    var pooled: [Float]
    var workspace: [Float]

    init() {
        var rng = BenchmarkRNG(seed: 4)
        let s = Self.conv
        input = rng.floats(256 * 28 * 28)
        weight = rng.floats(32 * 9)
        bias = rng.floats(32)
        packed = PackedConvWeights(s, weight: weight)
        convolved = [Float](repeating: 0, count: 256 * 32 * 28 * 28)
        pooled = [Float](repeating: 0, count: 256 * 32 * 14 * 14)
        workspace = [Float](repeating: 0, count: max(conv2dWorkspaceCount(s, threads: 2), conv2dMaxPoolWorkspaceCount(s, threads: 2)))
    }
}

/// Two calls (the convolution's output goes to memory and back) against `conv2dMaxPool`. One
/// thread is timed in thread CPU time (robust to other processes on a shared machine), two
/// threads in wall time.
func registerConvMaxPoolBenchmarks() {
    for threads in [1, 2] {
        let metrics = threads == 1 ? [threadCPUMicroseconds] : []
        func time(_ benchmark: Benchmark, _ body: () -> Void) {
            if threads == 1 { threadTimed(benchmark, body) } else { body() }
        }
        Benchmark("stem conv+maxpool batch 256 \(threads)T separate", configuration: .kernel(metrics, maxIterations: 200)) { (benchmark: Benchmark, o: StemOperands) in
            time(benchmark) {
                conv2d(StemOperands.conv, input: o.input, packedWeights: o.packed, bias: o.bias, output: &o.convolved,
                       relu: true, workspace: &o.workspace, threads: threads)
                maxPool2d(StemOperands.pool, input: o.convolved, output: &o.pooled, threads: threads)
            }
        } setup: { StemOperands() }
        Benchmark("stem conv+maxpool batch 256 \(threads)T fused", configuration: .kernel(metrics, maxIterations: 200)) { (benchmark: Benchmark, o: StemOperands) in
            time(benchmark) {
                conv2dMaxPool(StemOperands.conv, pool: StemOperands.pool, input: o.input, packedWeights: o.packed,
                              weight: o.weight, bias: o.bias, output: &o.pooled, relu: true, workspace: &o.workspace,
                              threads: threads)
            }
        } setup: { StemOperands() }
    }
}
