import Kernels

// Derivatives of Conv (see Ops/Convolution.swift), by im2col per image:
// Z_n = W·col(x_n) (+ bias + residual), Y = relu?(Z). W̄ = Σ_n Z̄_n·col(x_n)ᵀ, x̄_n = col2im(Wᵀ·Z̄_n),
// r̄ = Z̄. Bilinear in (W, x), so the tangent of each adjoint swaps one factor for its tangent.
// A fused max pool is undone before compiling for reverse mode (`ReverseMode`), so the pre-pool
// values are retained like any other.

struct ConvDerivative: DerivativeRule {
    let s: Conv2DShape
    let relu: Bool
    /// The residual's shape when it broadcasts to the output (nil: same shape or none).
    let broadcastResidual: [Int]?
    let outShape: [Int]

    init(_ c: DerivativeContext, _ op: ConvOperator) throws {
        guard op.pool == nil else { throw c.failure("a fused max pool has no backward; compile with the pool unfused") }
        guard op.shape.group == 1 else { throw c.failure("grouped convolution (group \(op.shape.group)) has no backward yet") }
        if c.node.inputs.count > 2, c.node.inputs[2] != nil, c.constantInputs[2] == nil {
            throw c.failure("reverse mode needs a constant bias")
        }
        s = op.shape
        relu = op.relu
        broadcastResidual = op.broadcastResidual
        outShape = c.outputTypes[0].shape
    }

    private var kSize: Int { s.inChannels * s.kernelH * s.kernelW }
    private var spatial: Int { s.outHeight * s.outWidth }
    private var inImage: Int { s.inChannels * s.inHeight * s.inWidth }
    private var outImage: Int { s.outChannels * spatial }
    private var outCount: Int { s.batch * outImage }
    private var inCount: Int { s.batch * inImage }
    private var weightCount: Int { s.outChannels * kSize }

    /// col[K, L] from one image.
    private func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>) {
        let l = spatial
        for c in 0..<s.inChannels {
            for i in 0..<s.kernelH {
                for j in 0..<s.kernelW {
                    let row = col + ((c * s.kernelH + i) * s.kernelW + j) * l
                    for oh in 0..<s.outHeight {
                        let h = oh * s.strideH - s.padTop + i * s.dilationH
                        let out = row + oh * s.outWidth
                        guard h >= 0 && h < s.inHeight else {
                            for ow in 0..<s.outWidth { out[ow] = 0 }
                            continue
                        }
                        let src = x + (c * s.inHeight + h) * s.inWidth
                        for ow in 0..<s.outWidth {
                            let w = ow * s.strideW - s.padLeft + j * s.dilationW
                            out[ow] = w >= 0 && w < s.inWidth ? src[w] : 0
                        }
                    }
                }
            }
        }
    }

    /// x (one image) += col2im(col).
    private func col2im(_ col: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>) {
        let l = spatial
        for c in 0..<s.inChannels {
            for i in 0..<s.kernelH {
                for j in 0..<s.kernelW {
                    let row = col + ((c * s.kernelH + i) * s.kernelW + j) * l
                    for oh in 0..<s.outHeight {
                        let h = oh * s.strideH - s.padTop + i * s.dilationH
                        guard h >= 0 && h < s.inHeight else { continue }
                        let dst = x + (c * s.inHeight + h) * s.inWidth
                        let src = row + oh * s.outWidth
                        for ow in 0..<s.outWidth {
                            let w = ow * s.strideW - s.padLeft + j * s.dilationW
                            if w >= 0 && w < s.inWidth { dst[w] += src[ow] }
                        }
                    }
                }
            }
        }
    }

    /// `target` (residual-shaped) += values (output-shaped), summing over broadcast dims; or the reverse.
    private func residualAccumulate(_ values: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, toOutput: Bool) {
        guard let rShape = broadcastResidual else {
            for i in 0..<outCount { target[i] += values[i] }
            return
        }
        let strides = Shapes.broadcastStrides(rShape, to: outShape)
        BroadcastLoop.forEach(shape: outShape, strides: [strides]) { i, o in
            if toOutput { target[i] += values[o[0]] } else { target[o[0]] += values[i] }
        }
    }

    private func masked(_ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, probes: Int, into out: UnsafeMutablePointer<Float>) {
        out.update(from: g, count: probes * outCount)
        if relu { applyReluMask(out, y: y, count: outCount, probes: probes) }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0] else { return }
        let x = d.input(0), w = d.input(1)
        let gx = d.inputGrad(0), gw = d.inputGrad(1)
        withScratch(outCount) { z in
            masked(g, d.outputs[0], probes: 1, into: z)
            if let gr = d.inputGrad(3) { residualAccumulate(z, into: gr, toOutput: false) }
            guard gx != nil || gw != nil else { return }
            withScratch(kSize * spatial) { col in
                for image in 0..<s.batch {
                    let zi = z + image * outImage
                    if let gw {
                        im2col(x + image * inImage, col)
                        matmulAccumulate(m: s.outChannels, n: kSize, k: spatial, zi, false, col, true, gw, threads: d.threads)
                    }
                    if let gx {
                        matmulAccumulate(m: kSize, n: spatial, k: s.outChannels, w, true, zi, false, col, accumulate: false,
                                         threads: d.threads)
                        col2im(col, gx + image * inImage)
                    }
                }
            }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        let x = d.input(0), w = d.input(1), tx = d.inputTangent(0), tw = d.inputTangent(1)
        let probes = d.probes
        let colCount = kSize * spatial
        withScratch(colCount) { cols in
            for image in 0..<s.batch {
                let col = cols
                if let tw {
                    im2col(x + image * inImage, col)
                    for p in 0..<probes {
                        matmulAccumulate(m: s.outChannels, n: spatial, k: kSize, tw + p * weightCount, false, col, false,
                                         out + p * outCount + image * outImage, threads: d.threads)
                    }
                }
                if let tx {
                    for p in 0..<probes {
                        im2col(tx + p * inCount + image * inImage, col)
                        matmulAccumulate(m: s.outChannels, n: spatial, k: kSize, w, false, col, false,
                                         out + p * outCount + image * outImage, threads: d.threads)
                    }
                }
            }
        }
        if let tr = d.inputTangent(3) {
            let rCount = broadcastResidual?.reduce(1, *) ?? outCount
            for p in 0..<probes { residualAccumulate(tr + p * rCount, into: out + p * outCount, toOutput: true) }
        }
        if relu { applyReluMask(out, y: d.outputs[0], count: outCount, probes: probes) }
    }

    func tangentBackward(_ d: DerivativeIO) {
        let x = d.input(0), w = d.input(1), tx = d.inputTangent(0), tw = d.inputTangent(1)
        let g = d.outputGrads[0], tg = d.outputTangentGrads[0]
        let tgx = d.inputTangentGrad(0), tgw = d.inputTangentGrad(1)
        let probes = d.probes
        let colCount = kSize * spatial
        withScratch(outCount) { z in
            withScratch(probes * outCount) { tz in
                if let g { masked(g, d.outputs[0], probes: 1, into: z) }
                if let tg { masked(tg, d.outputs[0], probes: probes, into: tz) }
                if let tgr = d.inputTangentGrad(3), tg != nil {
                    let rCount = broadcastResidual?.reduce(1, *) ?? outCount
                    for p in 0..<probes { residualAccumulate(tz + p * outCount, into: tgr + p * rCount, toOutput: false) }
                }
                guard tgx != nil || tgw != nil else { return }
                withScratch(2 * colCount) { cols in
                    let colX = cols, col = cols + colCount
                    for image in 0..<s.batch {
                        let zi = z + image * outImage
                        if tgw != nil && tg != nil { im2col(x + image * inImage, colX) }
                        for p in 0..<probes {
                            let tzi = tz + p * outCount + image * outImage
                            if let tgw {
                                let target = tgw + p * weightCount
                                if tg != nil {
                                    matmulAccumulate(m: s.outChannels, n: kSize, k: spatial, tzi, false, colX, true, target,
                                                     threads: d.threads)
                                }
                                if g != nil, let tx {
                                    im2col(tx + p * inCount + image * inImage, col)
                                    matmulAccumulate(m: s.outChannels, n: kSize, k: spatial, zi, false, col, true, target,
                                                     threads: d.threads)
                                }
                            }
                            if let tgx {
                                var any = false
                                if tg != nil {
                                    matmulAccumulate(m: kSize, n: spatial, k: s.outChannels, w, true, tzi, false, col,
                                                     accumulate: false, threads: d.threads)
                                    any = true
                                }
                                if g != nil, let tw {
                                    matmulAccumulate(m: kSize, n: spatial, k: s.outChannels, tw + p * weightCount, true, zi, false,
                                                     col, accumulate: any, threads: d.threads)
                                    any = true
                                }
                                if any { col2im(col, tgx + p * inCount + image * inImage) }
                            }
                        }
                    }
                }
            }
        }
    }
}
