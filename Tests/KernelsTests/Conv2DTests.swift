import Kernels
import Testing

/// Direct double-precision convolution reference (ONNX Conv semantics).
private func referenceConv(_ s: Conv2DShape, _ x: [Float], _ w: [Float], _ bias: [Float]?, relu: Bool) -> [Double] {
    let (oh, ow) = (s.outHeight, s.outWidth)
    let cpg = s.inChannels / s.group
    let opg = s.outChannels / s.group
    var out = [Double](repeating: 0, count: s.batch * s.outChannels * oh * ow)
    for n in 0..<s.batch {
        for oc in 0..<s.outChannels {
            let g = oc / opg
            for i in 0..<oh {
                for j in 0..<ow {
                    var acc = Double(bias?[oc] ?? 0)
                    for c in 0..<cpg {
                        for kh in 0..<s.kernelH {
                            for kw in 0..<s.kernelW {
                                let h = i * s.strideH - s.padTop + kh * s.dilationH
                                let v = j * s.strideW - s.padLeft + kw * s.dilationW
                                guard h >= 0 && h < s.inHeight && v >= 0 && v < s.inWidth else { continue }
                                let xi = ((n * s.inChannels + g * cpg + c) * s.inHeight + h) * s.inWidth + v
                                let wi = ((oc * cpg + c) * s.kernelH + kh) * s.kernelW + kw
                                acc += Double(x[xi]) * Double(w[wi])
                            }
                        }
                    }
                    out[((n * s.outChannels + oc) * oh + i) * ow + j] = relu ? max(acc, 0) : acc
                }
            }
        }
    }
    return out
}

@Suite struct Conv2DTests {
    static let shapes: [Conv2DShape] = [
        Conv2DShape(
            batch: 2, inChannels: 3, inHeight: 9, inWidth: 9, outChannels: 5, kernelH: 3, kernelW: 3, padTop: 1,
            padLeft: 1, padBottom: 1, padRight: 1),
        Conv2DShape(
            batch: 3, inChannels: 8, inHeight: 11, inWidth: 7, outChannels: 13, kernelH: 3, kernelW: 3, strideH: 2,
            strideW: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
        // pointwise
        Conv2DShape(batch: 2, inChannels: 16, inHeight: 7, inWidth: 7, outChannels: 24, kernelH: 1, kernelW: 1),
        Conv2DShape(
            batch: 2, inChannels: 16, inHeight: 8, inWidth: 8, outChannels: 32, kernelH: 1, kernelW: 1, strideH: 2,
            strideW: 2),  // projection
        Conv2DShape(
            batch: 2, inChannels: 6, inHeight: 10, inWidth: 12, outChannels: 6, kernelH: 3, kernelW: 3, padTop: 1,
            padLeft: 1, padBottom: 1, padRight: 1, group: 6),  // depthwise
        Conv2DShape(
            batch: 1, inChannels: 4, inHeight: 9, inWidth: 9, outChannels: 8, kernelH: 3, kernelW: 3, strideH: 2,
            strideW: 2, padTop: 1, padLeft: 0, padBottom: 0, padRight: 1, group: 4),  // depthwise x2
        Conv2DShape(
            batch: 2, inChannels: 8, inHeight: 10, inWidth: 10, outChannels: 6, kernelH: 3, kernelW: 2, padTop: 2,
            padLeft: 1, padBottom: 0, padRight: 2, dilationH: 2, dilationW: 3, group: 2),
        Conv2DShape(batch: 1, inChannels: 1, inHeight: 1, inWidth: 1, outChannels: 1, kernelH: 1, kernelW: 1),
        Conv2DShape(
            batch: 5, inChannels: 1, inHeight: 28, inWidth: 28, outChannels: 32, kernelH: 5, kernelW: 5, padTop: 2,
            padLeft: 2, padBottom: 2, padRight: 2),
        // kernel larger than input: empty output
        Conv2DShape(batch: 1, inChannels: 2, inHeight: 3, inWidth: 3, outChannels: 3, kernelH: 5, kernelW: 5),
    ]

    @Test(arguments: 0..<10)
    func matchesDirectReference(index: Int) {
        let s = Self.shapes[index]
        var rng = TestRNG(seed: UInt64(index + 1))
        let x = rng.floats(s.batch * s.inChannels * s.inHeight * s.inWidth)
        let w = rng.floats(s.outChannels * (s.inChannels / s.group) * s.kernelH * s.kernelW)
        let bias = rng.floats(s.outChannels)
        let k = (s.inChannels / s.group) * s.kernelH * s.kernelW
        for threads in [1, 2] {
            for (useBias, relu) in [(true, true), (false, false)] {
                var y = [Float](repeating: .nan, count: max(1, s.batch * s.outChannels * s.outHeight * s.outWidth))
                var ws = [Float](repeating: .nan, count: max(1, conv2dWorkspaceCount(s, threads: threads)))
                bias.withUnsafeBufferPointer { bp in
                    conv2d(
                        s, input: x, weight: w, bias: useBias ? bp.baseAddress : nil, output: &y, relu: relu,
                        workspace: &ws, threads: threads)
                }
                let want = referenceConv(s, x, w, useBias ? bias : nil, relu: relu)
                let got = Array(y.prefix(want.count))
                // Same bound as GEMM: float32 accumulation of k products in [-1, 1].
                #expect(
                    toleranceRatio(got, want, rtol: 1e-5, atol: 2e-6 * Double(k)) <= 1,
                    "shape \(index) threads \(threads)")
            }
        }
    }
}
