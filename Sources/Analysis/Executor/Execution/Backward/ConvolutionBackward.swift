import Kernels

// Derivatives of Conv (see Ops/Convolution.swift): Z = conv(x, W) (+ bias + residual), Y = relu?(Z).
// W̄ = Σ_n Z̄_n·col(x_n)ᵀ (im2col + GEMM), x̄ = convᵀ(Z̄, W), r̄ = Z̄. Bilinear in (W, x), so the
// tangent of each adjoint swaps one factor for its tangent. Forward-like products (conv(ẋ, W),
// conv(x, V)) run on the executor's direct kernels (Kernels.conv2d); so does x̄ for stride-1 convs,
// as a correlation with the flipped, in/out-swapped kernel. Other geometries go through im2col,
// GEMM and col2im.
//
// Quadratic-form mode (Hutchinson traces): vᵀ(Hv)_W = d/dε ⟨V, W̄⟩ = ⟨Ż̄, conv(x, V)⟩ + ⟨Z̄, conv(ẋ, V)⟩,
// so the trace needs neither weight-gradient GEMM: conv(x, V) is kept from the tangent pass. Where
// x̄ runs as a transposed convolution, the second term is taken as ⟨convᵀ(Z̄, V), ẋ⟩ (the same
// number: convᵀ is conv's adjoint) from the product the input's tangent adjoint needs anyway, which
// saves one of the five convolutions per probe; other convs compute conv(ẋ, V) in `tangent`.
// A fused max pool is undone before compiling for reverse mode (`ReverseMode`), so the pre-pool
// values are retained like any other.

struct ConvDerivative: DerivativeRule {
    let s: Conv2DShape
    let relu: Bool
    /// The residual's shape when it broadcasts to the output (nil: same shape or none).
    let broadcastResidual: [Int]?
    let outShape: [Int]

    init(_ c: DerivativeContext, _ op: ConvOperator) throws {
        precondition(op.shape.group == 1, "grouped convolutions go to GroupedConvDerivative")
        if c.node.inputs.count > 2, c.node.inputs[2] != nil, c.constantInputs[2] == nil {
            throw c.failure("reverse mode needs a constant bias")
        }
        s = op.shape
        relu = op.relu
        broadcastResidual = op.broadcastResidual
        outShape = c.outputTypes[0].shape
        if s.strideH == 1, s.strideW == 1, s.dilationH == 1, s.dilationW == 1,
           s.padTop < s.kernelH, s.padBottom < s.kernelH, s.padLeft < s.kernelW, s.padRight < s.kernelW {
            let t = Conv2DShape(batch: s.batch, inChannels: s.outChannels, inHeight: s.outHeight, inWidth: s.outWidth,
                                outChannels: s.inChannels, kernelH: s.kernelH, kernelW: s.kernelW,
                                padTop: s.kernelH - 1 - s.padTop, padLeft: s.kernelW - 1 - s.padLeft,
                                padBottom: s.kernelH - 1 - s.padBottom, padRight: s.kernelW - 1 - s.padRight)
            transposed = t.outHeight == s.inHeight && t.outWidth == s.inWidth ? t : nil
        } else {
            transposed = nil
        }
    }

    var quadraticFormWeight: Int? { 1 }
    /// `tangent` writes every element of the output tangent (the forward-like product stores, not adds).
    var overwritesOutputTangent: Bool { true }
    var overwritesUnwrittenInputTangentGrad: Bool { true }

    /// The stride-1 convolution that maps an output adjoint to the input adjoint (the transposed
    /// convolution), for stride-1 undilated convs with padding below the kernel size; nil otherwise.
    private let transposed: Conv2DShape?

    private var kSize: Int { s.inChannels * s.kernelH * s.kernelW }
    private var spatial: Int { s.outHeight * s.outWidth }
    private var inImage: Int { s.inChannels * s.inHeight * s.inWidth }
    private var outImage: Int { s.outChannels * spatial }
    private var outCount: Int { s.batch * outImage }
    private var inCount: Int { s.batch * inImage }
    private var weightCount: Int { s.outChannels * kSize }

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

    private func masked(_ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>, probes: Int, into out: UnsafeMutablePointer<Float>,
                        threads: Int) {
        if relu {
            copyWherePositive(g, mask: y, into: out, count: outCount, probes: probes, threads: threads)
        } else {
            out.update(from: g, count: probes * outCount)
        }
    }

    /// Z̄ (or its tangent, `probes` copies) = adjoint ⊙ ReLU mask (`withReluMasked`).
    private func withMasked<R>(_ g: UnsafePointer<Float>?, _ y: UnsafePointer<Float>, probes: Int, threads: Int,
                               _ body: (UnsafePointer<Float>?) -> R) -> R {
        withReluMasked(g, y, relu: relu, count: outCount, probes: probes, threads: threads, body)
    }

    /// Images per block: the im2col matrix of a block holds about 4M floats.
    private var blockImages: Int { max(1, min(s.batch, (1 << 22) / max(kSize * spatial, 1))) }

    /// col[K, nb·L] of images `images` (column block b·L..<(b+1)·L is image b).
    private func im2colBlock(_ images: [UnsafePointer<Float>], _ col: UnsafeMutablePointer<Float>, threads: Int) {
        let nb = images.count, l = spatial, parts = min(threads, nb)
        Parallel.forEach(parts, threads: parts) { part in
            for b in (nb * part / parts)..<(nb * (part + 1) / parts) { s.im2col(images[b], channels: 0..<s.inChannels, col + b * l, ld: nb * l) }
        }
    }

    /// images[b] += col2im(col block b) for a col[K, nb·L].
    private func col2imBlock(_ col: UnsafePointer<Float>, _ images: [UnsafeMutablePointer<Float>], threads: Int) {
        let nb = images.count, l = spatial, parts = min(threads, nb)
        Parallel.forEach(parts, threads: parts) { part in
            for b in (nb * part / parts)..<(nb * (part + 1) / parts) { s.col2im(col + b * l, channels: 0..<s.inChannels, images[b], ld: nb * l) }
        }
    }

    /// z[Cout, nb·L] from output-shaped images [Cout, L].
    private func pack(_ images: [UnsafePointer<Float>], _ z: UnsafeMutablePointer<Float>) {
        let nb = images.count, l = spatial, parts = min(2, nb)
        Parallel.forEach(parts, threads: parts) { part in
            for b in (nb * part / parts)..<(nb * (part + 1) / parts) {
                for c in 0..<s.outChannels { (z + c * nb * l + b * l).update(from: images[b] + c * l, count: l) }
            }
        }
    }

    /// images[b] += z[Cout, nb·L] block b.
    private func unpackAdd(_ z: UnsafePointer<Float>, _ images: [UnsafeMutablePointer<Float>]) {
        let nb = images.count, l = spatial, parts = min(2, nb)
        Parallel.forEach(parts, threads: parts) { part in
            for b in (nb * part / parts)..<(nb * (part + 1) / parts) {
                for c in 0..<s.outChannels {
                    let source = z + c * nb * l + b * l, target = images[b] + c * l
                    for i in 0..<l { target[i] += source[i] }
                }
            }
        }
    }

    /// Calls body(first, count) for blocks of `total` images.
    private func blocks(_ total: Int, _ body: (Int, Int) -> Void) {
        let nb = blockImages
        var first = 0
        while first < total {
            body(first, min(nb, total - first))
            first += nb
        }
    }

    /// `output` = conv(`input`, `weight`) (+ `residual`) for `images` images of this layer's input
    /// shape; `weight` is [outChannels, inChannels, kH, kW]. No bias, no ReLU.
    private func forwardConv(images: Int, _ input: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                             _ output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>? = nil, threads: Int) {
        var shape = s
        shape.batch = images
        withScratch(conv2dWorkspaceCount(shape, threads: threads), zeroed: false) { workspace in
            conv2d(shape, input: input, weight: weight, bias: nil, output: output, residual: residual, workspace: workspace,
                   threads: threads)
        }
    }

    /// `output` = convᵀ(`adjoint`, `weight`) (+ `residual`): the input adjoint of `images` images
    /// whose output adjoints are `adjoint`, through `weight` ([outChannels, inChannels, kH, kW]).
    /// Needs `transposed`.
    private func transposedConv(images: Int, _ adjoint: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                                _ output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>? = nil, threads: Int) {
        var shape = transposed!
        shape.batch = images
        let area = s.kernelH * s.kernelW
        withScratch(weightCount, zeroed: false) { flipped in
            // flipped[c, oc, kH-1-i, kW-1-j] = weight[oc, c, i, j]
            for oc in 0..<s.outChannels {
                for c in 0..<s.inChannels {
                    let from = weight + (oc * s.inChannels + c) * area, to = flipped + (c * s.outChannels + oc) * area
                    for k in 0..<area { to[area - 1 - k] = from[k] }
                }
            }
            withScratch(conv2dWorkspaceCount(shape, threads: threads), zeroed: false) { workspace in
                conv2d(shape, input: adjoint, weight: flipped, bias: nil, output: output, residual: residual,
                       workspace: workspace, threads: threads)
            }
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0] else { return }
        let x = d.input(0), w = d.input(1)
        let gx = d.inputGrad(0), gw = d.inputGrad(1)
        withScratch(outCount, zeroed: false) { z in
            masked(g, d.outputs[0], probes: 1, into: z, threads: d.threads)
            if let gr = d.inputGrad(3) { residualAccumulate(z, into: gr, toOutput: false) }
            guard gx != nil || gw != nil else { return }
            if let gx, transposed != nil {
                withScratch(inCount, zeroed: false) { t in
                    transposedConv(images: s.batch, z, w, t, threads: d.threads)
                    addInPlace(gx, t, count: inCount, threads: d.threads)
                }
            }
            let gx = transposed == nil ? gx : nil
            guard gx != nil || gw != nil else { return }
            let nb = blockImages
            withScratch(kSize * spatial * nb) { col in
                withScratch(outImage * nb) { zb in
                    blocks(s.batch) { first, n in
                        pack((first..<(first + n)).map { UnsafePointer(z + $0 * outImage) }, zb)
                        if let gw {
                            im2colBlock((first..<(first + n)).map { x + $0 * inImage }, col, threads: d.threads)
                            matmulAccumulate(m: s.outChannels, n: kSize, k: n * spatial, zb, false, col, true, gw, threads: d.threads)
                        }
                        if let gx {
                            matmulAccumulate(m: kSize, n: n * spatial, k: s.outChannels, w, true, zb, false, col, accumulate: false,
                                             threads: d.threads)
                            col2imBlock(col, (first..<(first + n)).map { gx + $0 * inImage }, threads: d.threads)
                        }
                    }
                }
            }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        let x = d.input(0), w = d.input(1), tx = d.inputTangent(0), tw = d.inputTangent(1)
        let probes = d.probes
        // Ż = conv(ẋ, W) + conv(x, V) (+ ṙ): the probes' input tangents are just more images.
        if let tw {
            withScratch(d.retained == nil ? probes * outCount : 0, zeroed: false) { scratch in
                let u = d.retained ?? scratch
                for p in 0..<probes {
                    forwardConv(images: s.batch, x, tw + p * weightCount, u + p * outCount, threads: d.threads)
                }
                // conv(x, V) enters conv(ẋ, W) as its residual (added in the kernel's store, not by
                // another pass over the probes' outputs).
                if let tx {
                    forwardConv(images: probes * s.batch, tx, w, out, residual: u, threads: d.threads)
                } else {
                    out.update(from: u, count: probes * outCount)
                }
            }
            // Quadratic form, second term: ⟨Z̄, conv(ẋ, V)⟩ (the first needs Ż̄, in tangentBackward; so
            // does this one when `transposed` gives it as ⟨convᵀ(Z̄, V), ẋ⟩).
            if let q = d.quadraticForms, transposed == nil, let tx, let g = d.outputGrads[0] {
                withMasked(g, d.outputs[0], probes: 1, threads: d.threads) { z in
                    withScratch(outCount, zeroed: false) { t in
                        for p in 0..<probes {
                            forwardConv(images: s.batch, tx + p * inCount, tw + p * weightCount, t, threads: d.threads)
                            q[p] += dotProduct(z!, t, count: outCount)
                        }
                    }
                }
            }
        } else if let tx {
            forwardConv(images: probes * s.batch, tx, w, out, threads: d.threads)
        } else {
            // Only the residual has a tangent: it is added to zeros.
            zeroFill(out, count: probes * outCount, threads: d.threads)
        }
        if let tr = d.inputTangent(3) {
            let rCount = broadcastResidual?.reduce(1, *) ?? outCount
            for p in 0..<probes { residualAccumulate(tr + p * rCount, into: out + p * outCount, toOutput: true) }
        }
        if relu { applyReluMask(out, y: d.outputs[0], count: outCount, probes: probes, threads: d.threads) }
    }

    func tangentBackward(_ d: DerivativeIO) {
        // Z̄ and Ż̄: the adjoints themselves without a ReLU; with one, a masked copy of Z̄ (the primal
        // adjoint is kept for other passes and callers) and Ż̄ masked in place: the output's tangent
        // adjoint is read by its producer alone, here, and masking it in place saves a copy of all
        // probes' outputs (about 6% of a CNN trace).
        let tz = d.outputTangentGrads[0]
        if relu, let tz {
            copyWherePositive(tz, mask: d.outputs[0], into: UnsafeMutablePointer(mutating: tz), count: outCount,
                              probes: d.probes, threads: d.threads)
        }
        withMasked(d.outputGrads[0], d.outputs[0], probes: 1, threads: d.threads) { z in
            tangentBackward(d, z: z, tz: tz)
        }
    }

    /// `tangentBackward` with the masked adjoint `z` (Z̄) and its tangents `tz` (Ż̄, probe-major); nil: absent.
    private func tangentBackward(_ d: DerivativeIO, z: UnsafePointer<Float>?, tz: UnsafePointer<Float>?) {
        let x = d.input(0), w = d.input(1), tx = d.inputTangent(0), tw = d.inputTangent(1)
        let inputTangentGrad = d.inputTangentGrad(0), tgw = d.inputTangentGrad(1)
        let probes = d.probes
        let nb = blockImages
        if let tgr = d.inputTangentGrad(3), let tz {
            let rCount = broadcastResidual?.reduce(1, *) ?? outCount
            for p in 0..<probes { residualAccumulate(tz + p * outCount, into: tgr + p * rCount, toOutput: false) }
        }
        // Quadratic form, first term: ⟨Ż̄, conv(x, V)⟩, conv(x, V) kept by `tangent`.
        if let q = d.quadraticForms, let u = d.retained, let tz {
            for p in 0..<probes { q[p] += dotProduct(tz + p * outCount, u + p * outCount, count: outCount) }
        }
        // dx̄_p (+)= convᵀ(Ż̄_p, W) + convᵀ(Z̄, V_p); written rather than added when the engine left
        // dx̄ unwritten (see `overwritesUnwrittenInputTangentGrad`). In quadratic-form mode
        // ⟨convᵀ(Z̄, V_p), ẋ_p⟩ is the form's second term (see the file comment).
        let second = z != nil ? tw : nil
        let unwritten = d.inputTangentGradUnwritten
        if let tgx = inputTangentGrad, transposed != nil {
            if let second, let z {
                let form = tx == nil ? nil : d.quadraticForms
                withScratch(tz == nil ? 0 : probes * inCount, zeroed: false) { first in
                    withScratch(unwritten ? 0 : inCount, zeroed: false) { both in
                        if let tz { transposedConv(images: probes * s.batch, tz, w, first, threads: d.threads) }
                        for p in 0..<probes {
                            let target = tgx + p * inCount
                            let product = unwritten ? target : both
                            transposedConv(images: s.batch, z, second + p * weightCount, product, threads: d.threads)
                            if let form, let tx { form[p] += dotProduct(product, tx + p * inCount, count: inCount) }
                            let firstTerm = UnsafePointer(first + p * inCount)
                            if unwritten {
                                if tz != nil { addInPlace(target, firstTerm, count: inCount, threads: d.threads) }
                            } else if tz != nil {
                                // target += both + first in one pass (FMAs by 1: the same sums as two adds).
                                accumulateProbeTerms(target, ProbeTerm(.scalar(1), UnsafePointer(both)),
                                                     ProbeTerm(.scalar(1), firstTerm), count: inCount, probes: 1,
                                                     threads: d.threads)
                            } else {
                                addInPlace(target, both, count: inCount, threads: d.threads)
                            }
                        }
                    }
                }
            } else if let tz {
                if unwritten {
                    transposedConv(images: probes * s.batch, tz, w, tgx, threads: d.threads)
                } else {
                    withScratch(probes * inCount, zeroed: false) { first in
                        transposedConv(images: probes * s.batch, tz, w, first, threads: d.threads)
                        addInPlace(tgx, first, count: probes * inCount, threads: d.threads)
                    }
                }
            } else if unwritten {
                zeroFill(tgx, count: probes * inCount, threads: d.threads)
            }
        } else if transposed != nil, let q = d.quadraticForms, let tx, let z, let tw {
            // No input tangent adjoint wanted (not reached in practice: ẋ exists only where x̄̇ does),
            // but the form's second term still is.
            withScratch(inCount, zeroed: false) { product in
                for p in 0..<probes {
                    transposedConv(images: s.batch, z, tw + p * weightCount, product, threads: d.threads)
                    q[p] += dotProduct(product, tx + p * inCount, count: inCount)
                }
            }
        }
        let tgx = transposed == nil ? inputTangentGrad : nil
        if let tgx, unwritten { zeroFill(tgx, count: probes * inCount, threads: d.threads) }
        guard tgx != nil || tgw != nil else { return }
        withScratch(kSize * spatial * nb, zeroed: false) { col in
            withScratch(outImage * nb, zeroed: false) { zb in
                if let tgw {
                    if let tz {
                        // dW̄_p += Ż̄_p · col(x)ᵀ
                        blocks(s.batch) { first, n in
                            im2colBlock((first..<(first + n)).map { x + $0 * inImage }, col, threads: d.threads)
                            for p in 0..<probes {
                                pack((first..<(first + n)).map { tz + p * outCount + $0 * outImage }, zb)
                                matmulAccumulate(m: s.outChannels, n: kSize, k: n * spatial, zb, false, col, true,
                                                 tgw + p * weightCount, threads: d.threads)
                            }
                        }
                    }
                    if let z, let tx {
                        // dW̄_p += Z̄ · col(ẋ_p)ᵀ
                        for p in 0..<probes {
                            blocks(s.batch) { first, n in
                                im2colBlock((first..<(first + n)).map { tx + p * inCount + $0 * inImage }, col, threads: d.threads)
                                pack((first..<(first + n)).map { z + $0 * outImage }, zb)
                                matmulAccumulate(m: s.outChannels, n: kSize, k: n * spatial, zb, false, col, true,
                                                 tgw + p * weightCount, threads: d.threads)
                            }
                        }
                    }
                }
                if let tgx {
                    // dx̄_p += col2im(Wᵀ·Ż̄_p + V_pᵀ·Z̄), one col2im per block.
                    guard tz != nil || second != nil else { return }
                    for p in 0..<probes {
                        blocks(s.batch) { first, n in
                            var any = false
                            if let tz {
                                pack((first..<(first + n)).map { tz + p * outCount + $0 * outImage }, zb)
                                matmulAccumulate(m: kSize, n: n * spatial, k: s.outChannels, w, true, zb, false, col,
                                                 accumulate: false, threads: d.threads)
                                any = true
                            }
                            if let second, let z {
                                pack((first..<(first + n)).map { z + $0 * outImage }, zb)
                                matmulAccumulate(m: kSize, n: n * spatial, k: s.outChannels, second + p * weightCount, true, zb,
                                                 false, col, accumulate: any, threads: d.threads)
                            }
                            col2imBlock(col, (first..<(first + n)).map { tgx + p * inCount + $0 * inImage }, threads: d.threads)
                        }
                    }
                }
            }
        }
    }
}
