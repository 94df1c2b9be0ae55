import Kernels
import Testing

/// Direct double-precision convolution sums (ONNX Conv semantics), without bias or activation.
private func referenceConvSums(_ s: Conv2DShape, _ x: [Float], _ w: [Float]) -> [Double] {
    let (oh, ow) = (s.outHeight, s.outWidth)
    let cpg = s.inChannels / s.group
    let opg = s.outChannels / s.group
    var out = [Double](repeating: 0, count: s.batch * s.outChannels * oh * ow)
    for n in 0..<s.batch {
        for oc in 0..<s.outChannels {
            let g = oc / opg
            for i in 0..<oh {
                for j in 0..<ow {
                    var acc = 0.0
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
                    out[((n * s.outChannels + oc) * oh + i) * ow + j] = acc
                }
            }
        }
    }
    return out
}

/// Reference output: sums + bias, + residual, then ReLU.
private func referenceOutput(
    _ s: Conv2DShape, sums: [Double], bias: [Float]?, residual: [Float]?, relu: Bool
) -> [Double] {
    let hw = s.outHeight * s.outWidth
    var out = sums
    for i in 0..<out.count {
        var v = out[i]
        if let bias { v += Double(bias[(i / hw) % s.outChannels]) }
        if let residual { v += Double(residual[i]) }
        out[i] = relu ? max(v, 0) : v
    }
    return out
}

private let canary: Float = -12345.5

/// Runs `conv2d` (plain and with packed weights) for thread counts 1 and 2 and several
/// bias / residual / ReLU combinations, comparing with the double reference. The workspace is
/// exactly `conv2dWorkspaceCount` floats and the output exactly its size, each followed by
/// canaries that must survive (out-of-bounds writes fail the test).
private func checkConv(_ s: Conv2DShape, seed: UInt64, _ label: String, threadCounts: [Int] = [1, 2]) {
    var rng = TestRNG(seed: seed)
    let x = rng.floats(s.batch * s.inChannels * s.inHeight * s.inWidth)
    let w = rng.floats(s.outChannels * (s.inChannels / s.group) * s.kernelH * s.kernelW)
    let bias = rng.floats(s.outChannels)
    let outCount = s.batch * s.outChannels * s.outHeight * s.outWidth
    let residual = rng.floats(outCount)
    let k = (s.inChannels / s.group) * s.kernelH * s.kernelW
    let sums = referenceConvSums(s, x, w)
    // Packed weights are made for batch 1 and must work for any batch.
    var packedShape = s
    packedShape.batch = 1
    let packed = PackedConvWeights(packedShape, weight: w)
    let combos: [(bias: Bool, residual: Bool, relu: Bool)] = [
        (true, false, true), (false, false, false), (true, true, true), (false, true, false),
    ]
    for threads in threadCounts {
        let wsCount = conv2dWorkspaceCount(s, threads: threads)
        for usePacked in [false, true] {
            for combo in combos {
                var y = [Float](repeating: .nan, count: outCount + 16)
                for i in outCount..<y.count { y[i] = canary }
                var ws = [Float](repeating: .nan, count: wsCount + 16)
                for i in wsCount..<ws.count { ws[i] = canary }
                bias.withUnsafeBufferPointer { bp in
                    residual.withUnsafeBufferPointer { rp in
                        let b = combo.bias ? bp.baseAddress : nil
                        let r = combo.residual ? rp.baseAddress : nil
                        if usePacked {
                            conv2d(
                                s, input: x, packedWeights: packed, bias: b, output: &y, residual: r, relu: combo.relu,
                                workspace: &ws, threads: threads)
                        } else {
                            conv2d(
                                s, input: x, weight: w, bias: b, output: &y, residual: r, relu: combo.relu,
                                workspace: &ws, threads: threads)
                        }
                    }
                }
                let want = referenceOutput(
                    s, sums: sums, bias: combo.bias ? bias : nil, residual: combo.residual ? residual : nil,
                    relu: combo.relu)
                let what = "\(label) threads \(threads) packed \(usePacked) \(combo)"
                // Same bound as GEMM: float32 accumulation of k products in [-1, 1].
                #expect(toleranceRatio(Array(y.prefix(outCount)), want, rtol: 1e-5, atol: 2e-6 * Double(k)) <= 1, "\(what)")
                #expect(y[outCount...].allSatisfy { $0 == canary }, "output overrun: \(what)")
                #expect(ws[wsCount...].allSatisfy { $0 == canary }, "workspace overrun: \(what)")
            }
        }
    }
}

/// 3x3 "same" convolution shape (padding 1).
private func same3x3(batch: Int, c: Int, h: Int, w: Int, oc: Int, stride: Int = 1) -> Conv2DShape {
    Conv2DShape(
        batch: batch, inChannels: c, inHeight: h, inWidth: w, outChannels: oc, kernelH: 3, kernelW: 3,
        strideH: stride, strideW: stride, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
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
        // padding wider than the kernel reach: whole output rows / columns see only zeros
        Conv2DShape(
            batch: 2, inChannels: 5, inHeight: 3, inWidth: 4, outChannels: 20, kernelH: 3, kernelW: 3, padTop: 4,
            padLeft: 5, padBottom: 3, padRight: 6),
        // stride 3 with dilation 2 (PM, 3 column phases)
        Conv2DShape(
            batch: 2, inChannels: 6, inHeight: 17, inWidth: 19, outChannels: 18, kernelH: 3, kernelW: 3, strideH: 3,
            strideW: 3, padTop: 2, padLeft: 1, padBottom: 0, padRight: 3, dilationH: 2, dilationW: 2),
        // grouped, groups not multiples of 16 channels, several blocks per group
        Conv2DShape(
            batch: 3, inChannels: 12, inHeight: 9, inWidth: 11, outChannels: 54, kernelH: 3, kernelW: 3, padTop: 1,
            padLeft: 1, padBottom: 1, padRight: 1, group: 3),
        // 1-D style (height 1), wide
        Conv2DShape(
            batch: 2, inChannels: 8, inHeight: 1, inWidth: 61, outChannels: 24, kernelH: 1, kernelW: 5, padLeft: 2,
            padRight: 2),
        // ViT-style patch embedding (stride = kernel, K = 49: PM)
        Conv2DShape(
            batch: 3, inChannels: 1, inHeight: 28, inWidth: 28, outChannels: 20, kernelH: 7, kernelW: 7, strideH: 7,
            strideW: 7),
        // 1x1 stride 2 projection of the sample CNN (SP, row phases)
        Conv2DShape(
            batch: 2, inChannels: 32, inHeight: 14, inWidth: 14, outChannels: 64, kernelH: 1, kernelW: 1, strideH: 2,
            strideW: 2),
    ]

    @Test(arguments: 0..<16)
    func matchesDirectReference(index: Int) {
        checkConv(Self.shapes[index], seed: UInt64(index + 1), "shape \(index)")
    }

    /// Pixel-major tiles: every row width 1...30 (all pixel counts of every tile shape, and rows
    /// split into 2-5 chunks) with 1, 2, 3 and 4 channel blocks per tile (16, 32, 48, 64 output
    /// channels) and ragged channel counts.
    @Test(arguments: [16, 32, 48, 64, 5, 21, 70])
    func pixelMajorTileWidths(outChannels: Int) {
        for width in 1...30 {
            let s = Conv2DShape(
                batch: 2, inChannels: 4, inHeight: 2, inWidth: width, outChannels: outChannels, kernelH: 3, kernelW: 3,
                padTop: 1, padLeft: 1, padBottom: 0, padRight: 1)
            checkConv(s, seed: UInt64(width * 100 + outChannels), "PM width \(width) oc \(outChannels)", threadCounts: [2])
        }
    }

    /// Spatial tiles (reduction depth <= 32): 1...40 output channels (every channel count of a
    /// block, so every R x Q tile), maps with 16, 49 (overlapping last vector) and 784 pixels.
    @Test(arguments: [(4, 4), (7, 7), (28, 28)])
    func spatialTileChannels(height: Int, width: Int) {
        for oc in [1, 2, 3, 5, 8, 9, 10, 13, 14, 15, 16, 17, 25, 31, 33, 40] {
            let s = Conv2DShape(
                batch: 2, inChannels: 2, inHeight: height, inWidth: width, outChannels: oc, kernelH: 3, kernelW: 3,
                padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
            checkConv(s, seed: UInt64(oc * 7 + height), "SP \(height)x\(width) oc \(oc)", threadCounts: [1, 2])
        }
    }

    /// Strided and dilated geometry on both tile kinds: strides 1-3 (the stride-2 phase split's
    /// vector and scalar paths need padded widths >= 16 and rows at the image ends), asymmetric
    /// padding, dilation.
    @Test(arguments: [1, 2, 3])
    func stridesAndDilation(stride: Int) {
        for (c, h, w, dil) in [(1, 20, 23, 1), (3, 13, 29, 2), (8, 14, 14, 1), (5, 9, 33, 2), (16, 6, 15, 1)] {
            let s = Conv2DShape(
                batch: 2, inChannels: c, inHeight: h, inWidth: w, outChannels: 19, kernelH: 3, kernelW: 3,
                strideH: stride, strideW: stride, padTop: 2, padLeft: 1, padBottom: 0, padRight: 2,
                dilationH: dil, dilationW: dil)
            checkConv(s, seed: UInt64(stride * 1000 + c * 10 + dil), "stride \(stride) c \(c) \(h)x\(w) dil \(dil)")
        }
    }

    /// Thread splits: image-parallel with one image per thread (batch 2), with double-buffered
    /// prefetching (batch 4), per-image splits for batch 1 and an odd batch, by channels (even
    /// block count) and by rows (3 blocks over 2 threads); the sample CNN's layer shapes.
    @Test func threadSplits() {
        for batch in [1, 2, 3, 4] {
            checkConv(same3x3(batch: batch, c: 8, h: 9, w: 10, oc: 48), seed: 11, "rows split batch \(batch)")
            checkConv(same3x3(batch: batch, c: 8, h: 9, w: 10, oc: 64), seed: 12, "channel split batch \(batch)")
            checkConv(same3x3(batch: batch, c: 32, h: 14, w: 14, oc: 32), seed: 13, "32->32 14 batch \(batch)")
            checkConv(same3x3(batch: batch, c: 32, h: 14, w: 14, oc: 64, stride: 2), seed: 14, "32->64 s2 batch \(batch)")
            checkConv(same3x3(batch: batch, c: 64, h: 7, w: 7, oc: 64), seed: 15, "64->64 7 batch \(batch)")
            checkConv(same3x3(batch: batch, c: 1, h: 28, w: 28, oc: 32), seed: 16, "stem batch \(batch)")
        }
        checkConv(same3x3(batch: 9, c: 3, h: 5, w: 6, oc: 17), seed: 17, "batch 9")
        checkConv(same3x3(batch: 17, c: 5, h: 4, w: 5, oc: 33), seed: 18, "batch 17")
    }

    /// The residual may not overlap the output, but it may be the conv's own input when shapes
    /// agree (a common "x + conv(x)" block).
    @Test func residualIsInput() {
        let s = same3x3(batch: 2, c: 16, h: 6, w: 6, oc: 16)
        var rng = TestRNG(seed: 21)
        let x = rng.floats(s.batch * 16 * 36)
        let w = rng.floats(16 * 16 * 9)
        var y = [Float](repeating: .nan, count: x.count)
        var ws = [Float](repeating: .nan, count: conv2dWorkspaceCount(s, threads: 2))
        conv2d(s, input: x, weight: w, bias: nil, output: &y, residual: x, relu: true, workspace: &ws, threads: 2)
        let want = referenceOutput(s, sums: referenceConvSums(s, x, w), bias: nil, residual: x, relu: true)
        #expect(toleranceRatio(y, want, rtol: 1e-5, atol: 2e-6 * 144) <= 1)
    }
}

/// Winograd F(2x2, 3x3) and F(4x4, 3x3) (3x3 stride-1 convs with >= 16 input and output
/// channels): map sizes that are and are not multiples of the tile (partly used last tiles),
/// asymmetric and over-wide padding, channel counts that are not multiples of 16, batches that span
/// several chunks, a single image split by output channels (or, with 16 channels, by tiles), row
/// counts that end in 4-row blocks, and the same shapes with Winograd switched off (the direct
/// kernels) for comparison.
@Suite struct WinogradTests {
    @Test(arguments: [
        (2, 16, 7, 7, 16), (3, 20, 5, 6, 40), (1, 32, 14, 14, 32), (1, 64, 15, 13, 70), (5, 17, 9, 4, 33),
        (40, 32, 14, 14, 32), (2, 48, 3, 3, 16), (1, 16, 9, 9, 16), (1, 64, 7, 7, 64),
    ])
    func matchesReference(batch: Int, c: Int, h: Int, w: Int, oc: Int) {
        for policy in [ConvolutionOptions.WinogradPolicy.f2x2, .f4x4] {
            ConvolutionOptions.$winograd.withValue(policy) {
                for pads in [(1, 1, 1, 1), (0, 2, 1, 0), (2, 0, 3, 2)] {
                    let s = Conv2DShape(
                        batch: batch, inChannels: c, inHeight: h, inWidth: w, outChannels: oc, kernelH: 3, kernelW: 3,
                        padTop: pads.0, padLeft: pads.1, padBottom: pads.2, padRight: pads.3)
                    checkConv(
                        s, seed: UInt64(batch * 31 + c + h * 7 + oc),
                        "winograd \(policy) \(batch)x\(c)x\(h)x\(w) -> \(oc) pads \(pads)")
                }
            }
        }
    }

    @Test func directKernelsWhenSwitchedOff() {
        let inside = ConvolutionOptions.$winograd.withValue(.never) { () -> ConvolutionOptions.WinogradPolicy in
            checkConv(same3x3(batch: 3, c: 64, h: 14, w: 14, oc: 64), seed: 77, "winograd off")
            return ConvolutionOptions.winograd
        }
        #expect(inside == .never)
        #expect(ConvolutionOptions.winograd == .auto)
    }

    /// A workspace sized under one policy serves every other: sized with Winograd off, run with it
    /// forced on (the direction that used to overrun), with a guard zone after the workspace.
    @Test func workspaceSizedUnderAnyPolicyServesEveryPolicy() {
        let s = same3x3(batch: 2, c: 32, h: 14, w: 14, oc: 32)
        let count = ConvolutionOptions.$winograd.withValue(.never) { conv2dWorkspaceCount(s, threads: 2) }
        var rng = TestRNG(seed: 5)
        let x = rng.floats(s.batch * s.inChannels * s.inHeight * s.inWidth)
        let w = rng.floats(s.outChannels * s.inChannels * 9)
        var y = [Float](repeating: 0, count: s.batch * s.outChannels * s.outHeight * s.outWidth)
        let guardZone = 4096
        var workspace = [Float](repeating: .nan, count: count + guardZone)
        for policy in [ConvolutionOptions.WinogradPolicy.f2x2, .f4x4] {
            ConvolutionOptions.$winograd.withValue(policy) {
                conv2d(s, input: x, weight: w, bias: nil, output: &y, workspace: &workspace, threads: 2)
            }
        }
        let untouched = workspace[count...].allSatisfy { $0.isNaN }
        #expect(untouched, "the convolution wrote past the workspace it was sized for")
        let want = referenceOutput(s, sums: referenceConvSums(s, x, w), bias: nil, residual: nil, relu: false)
        #expect(toleranceRatio(y, want, rtol: 1e-5, atol: 2e-6 * 288) <= 1)
    }
}
