import Kernels

// Derivatives of a grouped Conv (group > 1, depthwise included; see Ops/Convolution.swift):
// Z = conv_g(x, W) + bias (+ residual), Y = relu?(Z). Output channel o of group g = o / (O/G) reads
// input channels g·Cg ..< (g+1)·Cg with its weights W[o, 0..<Cg, kh, kw]. Bilinear in (W, x) like
// the ungrouped rule (`ConvDerivative`), written as loops over the taps (`run`): grouped layers do
// few multiply-adds per output (a depthwise 3x3: 9), so a GEMM would not pay.

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

    /// The three products of one image, all accumulating (`+=`), visiting every (output, tap) pair:
    /// forward z += conv(x, w), input adjoint x += convᵀ(z, w), weight adjoint w += corr(z, x).
    private enum Product { case forward, inputAdjoint, weightAdjoint }

    /// Runs `product` for one image: `x` [Cin, H, W], `z` [O, OH, OW], `w` [O, Cg, kh, kw], each tap
    /// as one long shifted loop over the input plane's stride phases (`StridePhasePlanes`) and the
    /// output plane in their width (Z: OH x Wq, unused columns zero), instead of OH short, strided
    /// rows (depthwise maps are 7-28 wide).
    private func run(_ product: Product, x: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>, w: UnsafeMutablePointer<Float>) {
        let perGroup = s.outChannels / s.group, cg = s.inChannels / s.group
        let (inH, inW, outH, outW) = (s.inHeight, s.inWidth, s.outHeight, s.outWidth)
        guard outH > 0, outW > 0 else { return }
        let planes = StridePhasePlanes(s)
        let (wq, length, kArea) = (planes.columns, planes.taps, s.kernelH * s.kernelW)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: planes.count + outH * wq) { buffer in
            let phases = buffer.baseAddress!, wide = phases + planes.count
            for g in 0..<s.group {
                for ci in 0..<cg {
                    let xc = x + (g * cg + ci) * inH * inW
                    if product == .inputAdjoint {
                        phases.update(repeating: 0, count: planes.count)
                    } else {
                        planes.fill(phases, from: xc)
                    }
                    for oo in 0..<perGroup {
                        let o = g * perGroup + oo
                        let zo = z + o * outH * outW, taps = w + (o * cg + ci) * kArea
                        wide.update(repeating: 0, count: outH * wq)
                        if product != .forward {
                            for h in 0..<outH { (wide + h * wq).update(from: zo + h * outW, count: outW) }
                        }
                        for kh in 0..<s.kernelH {
                            for kw in 0..<s.kernelW {
                                let shifted = phases + planes.tapOffset(kh, kw)
                                let t = kh * s.kernelW + kw
                                switch product {
                                case .forward:
                                    let tap = taps[t]
                                    for i in 0..<length { wide[i] += tap * shifted[i] }
                                case .inputAdjoint:
                                    let tap = taps[t]
                                    for i in 0..<length { shifted[i] += tap * wide[i] }
                                case .weightAdjoint:
                                    taps[t] += laneDot(wide, shifted, count: length)
                                }
                            }
                        }
                        if product == .forward {
                            for h in 0..<outH {
                                let target = zo + h * outW, source = wide + h * wq
                                for j in 0..<outW { target[j] += source[j] }
                            }
                        }
                    }
                    if product == .inputAdjoint { planes.addBack(phases, into: xc) }
                }
            }
        }
    }

    /// `product` over `copies` x batch images: image i of copy p reads x + (xCopies ? p : 0)·inCount
    /// + i·inImage, z likewise, w + (wCopies ? p : 0)·weightCount. Weight adjoints are summed over
    /// images one copy at a time (each thread owns its copy), the others split over images.
    private func each(_ product: Product, copies: Int, threads: Int, x: UnsafePointer<Float>, xCopies: Bool,
                      z: UnsafePointer<Float>, zCopies: Bool, w: UnsafePointer<Float>, wCopies: Bool) {
        let (batch, inImage, outImage, inCount, outCount, weightCount) = (s.batch, inImage, outImage, inCount, outCount, weightCount)
        let mx = UnsafeMutablePointer(mutating: x), mz = UnsafeMutablePointer(mutating: z), mw = UnsafeMutablePointer(mutating: w)
        if product == .weightAdjoint {
            Parallel.forEach(copies, threads: threads) { p in
                for i in 0..<batch {
                    run(product, x: mx + (xCopies ? p * inCount : 0) + i * inImage, z: mz + (zCopies ? p * outCount : 0) + i * outImage,
                        w: mw + (wCopies ? p * weightCount : 0))
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

    /// Z̄ (or its tangent, `probes` copies) = adjoint ⊙ ReLU mask (`withReluMasked`).
    private func withMasked<R>(_ g: UnsafePointer<Float>?, _ y: UnsafePointer<Float>, probes: Int, threads: Int,
                               _ body: (UnsafePointer<Float>?) -> R) -> R {
        withReluMasked(g, y, relu: relu, count: outCount, probes: probes, threads: threads, body)
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
