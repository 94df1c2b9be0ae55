import Kernels
import Testing

/// Naive double-precision `maxPool(relu?(conv(x) + bias))`: every pooled output walks its window,
/// and every window cell inside the convolution's output is computed from scratch with explicit
/// bounds checks (ONNX Conv and MaxPool semantics; padding cells never win).
private func referenceConvMaxPool(
    _ s: Conv2DShape, _ p: Pool2DShape, _ x: [Float], _ w: [Float], _ bias: [Float]?, relu: Bool
) -> [Double] {
    let cpg = s.inChannels / s.group, opg = s.outChannels / s.group
    func conv(_ n: Int, _ oc: Int, _ i: Int, _ j: Int) -> Double {
        var acc = bias.map { Double($0[oc]) } ?? 0
        for c in 0..<cpg {
            for kh in 0..<s.kernelH {
                for kw in 0..<s.kernelW {
                    let h = i * s.strideH - s.padTop + kh * s.dilationH
                    let v = j * s.strideW - s.padLeft + kw * s.dilationW
                    guard h >= 0 && h < s.inHeight && v >= 0 && v < s.inWidth else { continue }
                    let xi = ((n * s.inChannels + (oc / opg) * cpg + c) * s.inHeight + h) * s.inWidth + v
                    acc += Double(x[xi]) * Double(w[((oc * cpg + c) * s.kernelH + kh) * s.kernelW + kw])
                }
            }
        }
        return relu ? max(acc, 0) : acc
    }
    var out: [Double] = []
    for n in 0..<s.batch {
        for oc in 0..<s.outChannels {
            for oh in 0..<p.outHeight {
                for ow in 0..<p.outWidth {
                    var m = -Double.infinity
                    for kh in 0..<p.kernelH {
                        for kw in 0..<p.kernelW {
                            let i = oh * p.strideH - p.padTop + kh * p.dilationH
                            let j = ow * p.strideW - p.padLeft + kw * p.dilationW
                            guard i >= 0 && i < s.outHeight && j >= 0 && j < s.outWidth else { continue }
                            m = max(m, conv(n, oc, i, j))
                        }
                    }
                    out.append(m)
                }
            }
        }
    }
    return out
}

private let canary: Float = -12345.5

/// Pool over the whole output of `s`: `k x k` windows with stride `stride` and padding `pad`, floor mode.
private func pool(over s: Conv2DShape, k: Int, stride: Int, pad: Int = 0) -> Pool2DShape {
    func size(_ n: Int) -> Int {
        Pool2DShape.outputSize(input: n, kernel: k, stride: stride, padBegin: pad, padEnd: pad, ceilMode: false)
    }
    return Pool2DShape(
        batch: s.batch, channels: s.outChannels, inHeight: s.outHeight, inWidth: s.outWidth,
        outHeight: size(s.outHeight), outWidth: size(s.outWidth), kernelH: k, kernelW: k, strideH: stride,
        strideW: stride, padTop: pad, padLeft: pad, padBottom: pad, padRight: pad)
}

private func same3x3(batch: Int, c: Int, h: Int, w: Int, oc: Int) -> Conv2DShape {
    Conv2DShape(batch: batch, inChannels: c, inHeight: h, inWidth: w, outChannels: oc, kernelH: 3, kernelW: 3,
                padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
}

@Suite struct ConvMaxPoolTests {
    /// Shapes: the sample CNN's stem (spatial kernel, fused), a pixel-major 32 -> 32 shape (fused),
    /// a single image and a Winograd-sized 64 -> 64 shape (both run unfused through the workspace),
    /// an odd batch, and a padded 3x3 / 2 pool.
    static let cases: [(Conv2DShape, Pool2DShape)] = {
        let stem = same3x3(batch: 5, c: 1, h: 28, w: 28, oc: 32)
        let pm = same3x3(batch: 4, c: 32, h: 14, w: 14, oc: 32)
        let single = same3x3(batch: 1, c: 1, h: 28, w: 28, oc: 32)
        let winograd = same3x3(batch: 2, c: 64, h: 14, w: 14, oc: 64)
        let odd = same3x3(batch: 3, c: 3, h: 9, w: 11, oc: 20)
        return [
            (stem, pool(over: stem, k: 2, stride: 2)), (pm, pool(over: pm, k: 2, stride: 2)),
            (single, pool(over: single, k: 2, stride: 2)), (winograd, pool(over: winograd, k: 2, stride: 2)),
            (odd, pool(over: odd, k: 2, stride: 2)), (odd, pool(over: odd, k: 3, stride: 2, pad: 1)),
        ]
    }()

    /// Against the naive reference (float32 accumulation of k products in [-1, 1]: rtol 1e-5, atol
    /// 2e-6 * k, as the conv tests; the max of values within that bound is within it) and
    /// bit-identical to `conv2d` then `maxPool2d`; 1 and 2 threads, packed or plain weights, with
    /// and without bias / ReLU; canaries after the output and the exact-size workspace.
    @Test(arguments: 0..<6)
    func matchesReferenceAndSeparateCalls(index: Int) {
        let (s, p) = Self.cases[index]
        var rng = TestRNG(seed: 0xC0DE + UInt64(index))
        let x = rng.floats(s.batch * s.inChannels * s.inHeight * s.inWidth)
        let w = rng.floats(s.outChannels * (s.inChannels / s.group) * s.kernelH * s.kernelW)
        let bias = rng.floats(s.outChannels)
        let k = (s.inChannels / s.group) * s.kernelH * s.kernelW
        let convCount = s.batch * s.outChannels * s.outHeight * s.outWidth
        let outCount = p.batch * p.channels * p.outHeight * p.outWidth
        var packedShape = s
        packedShape.batch = 1
        let packed = PackedConvWeights(packedShape, weight: w)
        for (useBias, relu) in [(true, true), (false, false)] {
            let want = referenceConvMaxPool(s, p, x, w, useBias ? bias : nil, relu: relu)
            // The two calls this one replaces.
            var convolved = [Float](repeating: .nan, count: convCount)
            var separate = [Float](repeating: .nan, count: outCount)
            var ws = [Float](repeating: 0, count: conv2dWorkspaceCount(s, threads: 2))
            bias.withUnsafeBufferPointer { bp in
                conv2d(s, input: x, weight: w, bias: useBias ? bp.baseAddress : nil, output: &convolved, relu: relu,
                       workspace: &ws, threads: 2)
            }
            maxPool2d(p, input: convolved, output: &separate, threads: 2)
            for threads in [1, 2] {
                let wsCount = conv2dMaxPoolWorkspaceCount(s, threads: threads)
                for usePacked in [false, true] {
                    var y = [Float](repeating: .nan, count: outCount + 16)
                    for i in outCount..<y.count { y[i] = canary }
                    var ws = [Float](repeating: .nan, count: wsCount + 16)
                    for i in wsCount..<ws.count { ws[i] = canary }
                    bias.withUnsafeBufferPointer { bp in
                        conv2dMaxPool(s, pool: p, input: x, packedWeights: usePacked ? packed : nil, weight: w,
                                      bias: useBias ? bp.baseAddress : nil, output: &y, relu: relu, workspace: &ws,
                                      threads: threads)
                    }
                    let what = "case \(index) threads \(threads) packed \(usePacked) bias \(useBias) relu \(relu)"
                    let got = Array(y.prefix(outCount))
                    #expect(toleranceRatio(got, want, rtol: 1e-5, atol: 2e-6 * Double(k)) <= 1, "\(what)")
                    #expect(got == separate, "not bit-identical to conv2d + maxPool2d: \(what)")
                    #expect(y[outCount...].allSatisfy { $0 == canary }, "output overrun: \(what)")
                    #expect(ws[wsCount...].allSatisfy { $0 == canary }, "workspace overrun: \(what)")
                }
            }
        }
    }
}
