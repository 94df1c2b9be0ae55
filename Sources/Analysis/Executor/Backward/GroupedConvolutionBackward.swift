import Kernels

// Derivatives of a grouped Conv (group > 1, depthwise included; see Ops/Convolution.swift):
// Z = conv_g(x, W) + bias (+ residual), Y = relu?(Z). Output channel o of group g = o / (O/G) reads
// input channels g·Cg ..< (g+1)·Cg with its weights W[o, 0..<Cg, kh, kw]. Bilinear in (W, x) like
// the ungrouped rule (`ConvDerivative`), written as direct loops over the taps: grouped layers do
// few multiply-adds per output (a depthwise 3x3: 9), so they are a small share of a pass.

struct GroupedConvDerivative: DerivativeRule {
    let s: Conv2DShape
    let relu: Bool

    init(_ c: DerivativeContext, _ op: ConvOperator) throws {
        precondition(op.shape.group > 1, "ungrouped convolutions go to ConvDerivative")
        if c.node.inputs.count > 2, c.node.inputs[2] != nil, c.constantInputs[2] == nil {
            throw c.failure("reverse mode needs a constant bias")
        }
        guard op.broadcastResidual == nil else { throw c.failure("grouped convolution with a broadcast residual has no backward") }
        s = op.shape
        relu = op.relu
    }

    private var inImage: Int { s.inChannels * s.inHeight * s.inWidth }
    private var outImage: Int { s.outChannels * s.outHeight * s.outWidth }
    private var outCount: Int { s.batch * outImage }
    private var inCount: Int { s.batch * inImage }
    private var weightCount: Int { s.outChannels * (s.inChannels / s.group) * s.kernelH * s.kernelW }

    /// Output positions [lo, hi) along one axis whose input position o·stride − pad + k·dilation is inside [0, size).
    @inline(__always)
    private static func range(_ k: Int, stride: Int, pad: Int, dilation: Int, size: Int, outSize: Int) -> Range<Int> {
        let offset = k * dilation - pad
        var lo = 0, hi = outSize
        while lo < hi && lo * stride + offset < 0 { lo += 1 }
        while hi > lo && (hi - 1) * stride + offset >= size { hi -= 1 }
        return lo..<hi
    }

    /// The three products of one image, all accumulating (`+=`), visiting every (output, tap) pair:
    /// forward z += conv(x, w), input adjoint x += convᵀ(z, w), weight adjoint w += corr(z, x).
    private enum Product { case forward, inputAdjoint, weightAdjoint }

    /// Runs `product` for one image: `x` [Cin, H, W], `z` [O, OH, OW], `w` [O, Cg, kh, kw]; for the
    /// weight adjoint `w` is instead [O·Cg·kh·kw][OW] per-column partial sums (summed over columns by
    /// the caller), so that every inner loop is an elementwise loop over output columns, which the
    /// compiler vectorises (a running scalar sum would not be: float addition is not reassociated).
    private func run(_ product: Product, x: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>) {
        let perGroup = s.outChannels / s.group, cg = s.inChannels / s.group
        let (sw, outW, inW) = (s.strideW, s.outWidth, s.inWidth)
        for o in 0..<s.outChannels {
            let g = o / perGroup
            let zo = z + o * s.outHeight * outW
            for ci in 0..<cg {
                let xc = x + (g * cg + ci) * s.inHeight * inW
                for kh in 0..<s.kernelH {
                    let rows = Self.range(kh, stride: s.strideH, pad: s.padTop, dilation: s.dilationH, size: s.inHeight, outSize: s.outHeight)
                    for kw in 0..<s.kernelW {
                        let columns = Self.range(kw, stride: sw, pad: s.padLeft, dilation: s.dilationW, size: inW, outSize: outW)
                        guard !columns.isEmpty else { continue }
                        let wi = ((o * cg + ci) * s.kernelH + kh) * s.kernelW + kw
                        let (lo, hi) = (columns.lowerBound, columns.upperBound)
                        for oh in rows {
                            let xr = xc + (oh * s.strideH - s.padTop + kh * s.dilationH) * inW - s.padLeft + kw * s.dilationW
                            let zr = zo + oh * outW
                            switch product {
                            case .forward:
                                let tap = w[wi]
                                if sw == 1 { for ow in lo..<hi { zr[ow] += tap * xr[ow] } } else { for ow in lo..<hi { zr[ow] += tap * xr[ow * sw] } }
                            case .inputAdjoint:
                                let tap = w[wi]
                                if sw == 1 { for ow in lo..<hi { xr[ow] += tap * zr[ow] } } else { for ow in lo..<hi { xr[ow * sw] += tap * zr[ow] } }
                            case .weightAdjoint:
                                let acc = w + wi * outW
                                if sw == 1 { for ow in lo..<hi { acc[ow] += zr[ow] * xr[ow] } } else { for ow in lo..<hi { acc[ow] += zr[ow] * xr[ow * sw] } }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `product` over `copies` x batch images: image i of copy p reads x + (xCopies ? p : 0)·inCount
    /// + i·inImage, z likewise, w + (wCopies ? p : 0)·weightCount. Weight adjoints are summed over
    /// images one copy at a time (each thread owns its copy and its column partial sums), the others
    /// split over images.
    private func each(_ product: Product, copies: Int, threads: Int, x: UnsafePointer<Float>, xCopies: Bool,
                      z: UnsafePointer<Float>, zCopies: Bool, w: UnsafePointer<Float>, wCopies: Bool) {
        let (batch, inImage, outImage, inCount, outCount, weightCount) = (s.batch, inImage, outImage, inCount, outCount, weightCount)
        let mx = UnsafeMutablePointer(mutating: x), mz = UnsafeMutablePointer(mutating: z), mw = UnsafeMutablePointer(mutating: w)
        if product == .weightAdjoint {
            let outW = s.outWidth
            Parallel.forEach(copies, threads: threads) { p in
                withScratch(weightCount * outW) { partial in
                    for i in 0..<batch {
                        run(product, x: mx + (xCopies ? p * inCount : 0) + i * inImage, z: mz + (zCopies ? p * outCount : 0) + i * outImage,
                            w: partial)
                    }
                    let target = mw + (wCopies ? p * weightCount : 0)
                    for wi in 0..<weightCount {
                        var sum: Float = 0
                        for ow in 0..<outW { sum += partial[wi * outW + ow] }
                        target[wi] += sum
                    }
                }
            }
        } else {
            Parallel.forEach(copies * batch, threads: threads) { job in
                let (p, i) = job.quotientAndRemainder(dividingBy: batch)
                run(product, x: mx + (xCopies ? p * inCount : 0) + i * inImage, z: mz + (zCopies ? p * outCount : 0) + i * outImage,
                    w: mw + (wCopies ? p * weightCount : 0))
            }
        }
    }

    /// `g` (`probes` copies) masked by the ReLU (y > 0), in a scratch buffer for `body`; `g` itself without a ReLU.
    private func withMasked<R>(_ g: UnsafePointer<Float>?, _ y: UnsafePointer<Float>, probes: Int, threads: Int,
                               _ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let g, relu else { return body(g) }
        return withScratch(probes * outCount, zeroed: false) { out in
            copyWherePositive(g, mask: y, into: out, count: outCount, probes: probes, threads: threads)
            return body(UnsafePointer(out))
        }
    }

    func backward(_ d: DerivativeIO) {
        let y = d.outputs[0]
        withMasked(d.outputGrads[0], y, probes: 1, threads: d.threads) { zbar in
            guard let zbar else { return }
            if let gw = d.inputGrad(1) {
                each(.weightAdjoint, copies: 1, threads: 1, x: d.input(0), xCopies: false, z: zbar, zCopies: false, w: gw, wCopies: false)
            }
            if let gx = d.inputGrad(0) {
                each(.inputAdjoint, copies: 1, threads: d.threads, x: gx, xCopies: false, z: zbar, zCopies: false, w: d.input(1), wCopies: false)
            }
            if d.inputGrads.count > 3, let gr = d.inputGrads[3] { for i in 0..<outCount { gr[i] += zbar[i] } }
        }
    }

    /// Ż = conv(ẋ, W) + conv(x, V) + ṙ, Ẏ = mask ⊙ Ż.
    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        let p = d.probes
        withScratch(p * outCount) { zdot in
            if let tx = d.inputTangent(0) {
                each(.forward, copies: p, threads: d.threads, x: tx, xCopies: true, z: zdot, zCopies: true, w: d.input(1), wCopies: false)
            }
            if let tw = d.inputTangent(1) {
                each(.forward, copies: p, threads: d.threads, x: d.input(0), xCopies: false, z: zdot, zCopies: true, w: tw, wCopies: true)
            }
            if let tr = d.inputTangent(3) { for i in 0..<(p * outCount) { zdot[i] += tr[i] } }
            if relu {
                withScratch(p * outCount, zeroed: false) { masked in
                    copyWherePositive(zdot, mask: d.outputs[0], into: masked, count: outCount, probes: p, threads: d.threads)
                    for i in 0..<(p * outCount) { out[i] += masked[i] }
                }
            } else {
                for i in 0..<(p * outCount) { out[i] += zdot[i] }
            }
        }
    }

    /// d x̄ = convᵀ(d Z̄, W) + convᵀ(Z̄, V), d W̄ = corr(d Z̄, x) + corr(Z̄, ẋ), d r̄ = d Z̄, with
    /// Z̄ = mask ⊙ ȳ and d Z̄ = mask ⊙ d ȳ (the ReLU's second derivative is zero).
    func tangentBackward(_ d: DerivativeIO) {
        let p = d.probes, y = d.outputs[0]
        let tx = d.inputTangent(0), tw = d.inputTangent(1)
        withMasked(d.outputGrads[0], y, probes: 1, threads: d.threads) { zbar in
            withMasked(d.outputTangentGrads[0], y, probes: p, threads: d.threads) { tzbar in
                if let tgx = d.inputTangentGrad(0) {
                    if let tzbar {
                        each(.inputAdjoint, copies: p, threads: d.threads, x: tgx, xCopies: true, z: tzbar, zCopies: true, w: d.input(1), wCopies: false)
                    }
                    if let zbar, let tw {
                        each(.inputAdjoint, copies: p, threads: d.threads, x: tgx, xCopies: true, z: zbar, zCopies: false, w: tw, wCopies: true)
                    }
                }
                if let tgw = d.inputTangentGrad(1) {
                    if let tzbar {
                        each(.weightAdjoint, copies: p, threads: d.threads, x: d.input(0), xCopies: false, z: tzbar, zCopies: true, w: tgw, wCopies: true)
                    }
                    if let zbar, let tx {
                        each(.weightAdjoint, copies: p, threads: d.threads, x: tx, xCopies: true, z: zbar, zCopies: false, w: tgw, wCopies: true)
                    }
                }
                if d.inputTangentGrads.count > 3, let tgr = d.inputTangentGrads[3], let tzbar {
                    for i in 0..<(p * outCount) { tgr[i] += tzbar[i] }
                }
            }
        }
    }
}
