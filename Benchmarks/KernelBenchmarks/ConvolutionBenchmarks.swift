import Benchmark
import Kernels

/// One convolution's tensors: NCHW input, OIHW weights (grouped), bias, output and a workspace
/// large enough for every call a benchmark makes (batch `s.batch` and a single image, both thread
/// counts).
final class ConvolutionOperands {
    let shape: Conv2DShape
    let input, weight, bias: [Float]
    var output: [Float]
    var workspace: [Float]
    let packed: PackedConvWeights

    init(_ s: Conv2DShape, rng: inout BenchmarkRNG) {
        shape = s
        input = rng.floats(s.batch * s.inChannels * s.inHeight * s.inWidth)
        weight = rng.floats(s.outChannels * s.inChannels / s.group * s.kernelH * s.kernelW)
        bias = rng.floats(s.outChannels)
        output = [Float](repeating: 0, count: s.batch * s.outChannels * s.outHeight * s.outWidth)
        let single = s.batchOfOne
        let counts = [1, 2].flatMap { [conv2dWorkspaceCount(s, threads: $0), conv2dWorkspaceCount(single, threads: $0)] }
        workspace = [Float](repeating: 0, count: max(1, counts.max()!))
        packed = PackedConvWeights(s, weight: weight)
    }

    /// Multiply-adds times two of the whole batch.
    var flops: Double {
        2 * Double(output.count) * Double(shape.inChannels / shape.group * shape.kernelH * shape.kernelW)
    }
}

extension Conv2DShape {
    var batchOfOne: Conv2DShape {
        var one = self
        one.batch = 1
        return one
    }
}

/// 3x3 convolution with padding 1, the sample CNN's kind of layer.
private func conv3x3(batch: Int, _ inChannels: Int, _ outChannels: Int, size: Int, stride: Int = 1, group: Int = 1) -> Conv2DShape {
    Conv2DShape(batch: batch, inChannels: inChannels, inHeight: size, inWidth: size, outChannels: outChannels,
                kernelH: 3, kernelW: 3, strideH: stride, strideW: stride, padTop: 1, padLeft: 1, padBottom: 1,
                padRight: 1, group: group)
}

/// Fashion-MNIST ResNet-like layers at batch 256 (the sample CNN's own layers at 28x28, 14x14 and
/// 7x7, the ViT patch embedding, a depthwise layer): weights packed per call on one and two
/// threads; weights packed once on two threads under each Winograd policy (what
/// `winogradTile(for:)` decides between); and a single image on two threads.
///
/// Then the CNN's 3x3 layers at batch 64 on one thread in thread CPU time (for A/B comparisons of
/// tile shapes on a loaded machine) with a single image on two threads, and the projection
/// shortcut (1x1, stride 2) at batch 64 in one call against 64 single-image calls.
func registerConvolutionBenchmarks() {
    let batch256: [(String, Conv2DShape)] = [
        ("32->32 3x3 p1 28x28", conv3x3(batch: 256, 32, 32, size: 28)),
        ("32->64 3x3 s2 p1 28->14", conv3x3(batch: 256, 32, 64, size: 28, stride: 2)),
        ("64->64 3x3 p1 14x14", conv3x3(batch: 256, 64, 64, size: 14)),
        ("64->64 3x3 p1 7x7", conv3x3(batch: 256, 64, 64, size: 7)),
        ("1x1 32->64 s2 28->14", Conv2DShape(batch: 256, inChannels: 32, inHeight: 28, inWidth: 28, outChannels: 64,
                                             kernelH: 1, kernelW: 1, strideH: 2, strideW: 2)),
        ("1->32 3x3 p1 28x28", conv3x3(batch: 256, 1, 32, size: 28)),
        ("32->32 3x3 p1 14x14", conv3x3(batch: 256, 32, 32, size: 14)),
        ("32->64 3x3 s2 p1 14->7", conv3x3(batch: 256, 32, 64, size: 14, stride: 2)),
        ("1x1 32->64 s2 14->7", Conv2DShape(batch: 256, inChannels: 32, inHeight: 14, inWidth: 14, outChannels: 64,
                                            kernelH: 1, kernelW: 1, strideH: 2, strideW: 2)),
        ("1->64 7x7 s7 (ViT patch)", Conv2DShape(batch: 256, inChannels: 1, inHeight: 28, inWidth: 28, outChannels: 64,
                                                 kernelH: 7, kernelW: 7, strideH: 7, strideW: 7)),
        ("dw 64 3x3 p1 14x14", conv3x3(batch: 256, 64, 64, size: 14, group: 64)),
    ]
    for (name, s) in batch256 {
        let setup = {
            var rng = BenchmarkRNG(seed: 2)
            return ConvolutionOperands(s, rng: &rng)
        }
        for threads in [1, 2] {
            Benchmark("conv \(name) N=256 \(threads)T", configuration: .kernel([megaflopsPerSecond], maxIterations: 200)) { (benchmark: Benchmark, c: ConvolutionOperands) in
                timed(benchmark, flops: c.flops) {
                    conv2d(s, input: c.input, weight: c.weight, bias: c.bias, output: &c.output, relu: true,
                           workspace: &c.workspace, threads: threads)
                }
            } setup: { setup() }
        }
        for policy in [ConvolutionOptions.WinogradPolicy.auto, .f4x4, .f2x2, .never] {
            Benchmark("conv \(name) N=256 packed 2T winograd \(policy)", configuration: .kernel([megaflopsPerSecond], maxIterations: 200)) { (benchmark: Benchmark, c: ConvolutionOperands) in
                ConvolutionOptions.$winograd.withValue(policy) {
                    timed(benchmark, flops: c.flops) {
                        conv2d(s, input: c.input, packedWeights: c.packed, bias: c.bias, output: &c.output, relu: true,
                               workspace: &c.workspace, threads: 2)
                    }
                }
            } setup: { setup() }
        }
        Benchmark("conv \(name) N=1 packed 2T", configuration: .kernel([])) { (_: Benchmark, c: ConvolutionOperands) in
            conv2d(s.batchOfOne, input: c.input, packedWeights: c.packed, bias: c.bias, output: &c.output, relu: true,
                   workspace: &c.workspace, threads: 2)
        } setup: { setup() }
    }

    let batch64: [(String, Conv2DShape)] = [
        ("stem 1->32 28x28", conv3x3(batch: 64, 1, 32, size: 28)),
        ("32->32 14x14", conv3x3(batch: 64, 32, 32, size: 14)),
        ("32->64 14x14 s2", conv3x3(batch: 64, 32, 64, size: 14, stride: 2)),
        ("64->64 7x7", conv3x3(batch: 64, 64, 64, size: 7)),
    ]
    for (name, s) in batch64 {
        let setup = {
            var rng = BenchmarkRNG(seed: 5)
            return ConvolutionOperands(s, rng: &rng)
        }
        Benchmark("conv \(name) batch 64 1T", configuration: .kernel([threadCPUMicroseconds, megaflopsPerSecond])) { (benchmark: Benchmark, c: ConvolutionOperands) in
            threadTimed(benchmark, flops: c.flops) {
                conv2d(s, input: c.input, packedWeights: c.packed, bias: c.bias, output: &c.output, relu: true,
                       workspace: &c.workspace, threads: 1)
            }
        } setup: { setup() }
        // A run of ~10 us is rarely preempted, so the best of many is meaningful even when loaded.
        Benchmark("conv \(name) batch 1 2T", configuration: .kernel([], maxIterations: 3000)) { (_: Benchmark, c: ConvolutionOperands) in
            conv2d(s.batchOfOne, input: c.input, packedWeights: c.packed, bias: c.bias, output: &c.output, relu: true,
                   workspace: &c.workspace, threads: 2)
        } setup: { setup() }
    }

    // The CNN's projection shortcut, both ways on the direct spatial kernel (`isStridedPointwise`
    // leaves shallow reductions to it): a batched call must not lose to per-image calls.
    let shortcut = Conv2DShape(batch: 64, inChannels: 32, inHeight: 14, inWidth: 14, outChannels: 64, kernelH: 1,
                               kernelW: 1, strideH: 2, strideW: 2)
    let shortcutSetup = {
        var rng = BenchmarkRNG(seed: 6)
        return ConvolutionOperands(shortcut, rng: &rng)
    }
    Benchmark("shortcut 32->64 1x1 s2 batch 64 1T one call", configuration: .kernel([threadCPUMicroseconds])) { (benchmark: Benchmark, c: ConvolutionOperands) in
        threadTimed(benchmark) {
            conv2d(shortcut, input: c.input, packedWeights: c.packed, bias: c.bias, output: &c.output,
                   workspace: &c.workspace, threads: 1)
        }
    } setup: { shortcutSetup() }
    Benchmark("shortcut 32->64 1x1 s2 batch 64 1T 64 single-image calls", configuration: .kernel([threadCPUMicroseconds])) { (benchmark: Benchmark, c: ConvolutionOperands) in
        let one = shortcut.batchOfOne
        let imageIn = 32 * 14 * 14, imageOut = 64 * 7 * 7
        c.input.withUnsafeBufferPointer { input in
            c.output.withUnsafeMutableBufferPointer { output in
                threadTimed(benchmark) {
                    for n in 0..<64 {
                        conv2d(one, input: input.baseAddress! + n * imageIn, packedWeights: c.packed, bias: c.bias,
                               output: output.baseAddress! + n * imageOut, workspace: &c.workspace, threads: 1)
                    }
                }
            }
        }
    } setup: { shortcutSetup() }
}
