import Kernels

// Derivatives of ConvTranspose (see Ops/ConvTranspose.swift): Y = convᵀ(x, W) + bias, where convᵀ is
// the adjoint of the dual convolution conv (output-shaped image → input-shaped image). Bilinear in
// (x, W), and the adjoint of convᵀ is conv itself, so with ⟨convᵀ(x, W), Ȳ⟩ = ⟨x, conv(Ȳ, W)⟩:
//   x̄ = conv(Ȳ, W)                 (the dual convolution, on the executor's direct kernels)
//   W̄ = Σ_n x_n · col(Ȳ_n)ᵀ        (per group: im2col of Ȳ and a GEMM, as Conv's weight gradient
//                                   with the roles of input and output adjoint swapped)
//   Ẏ = convᵀ(ẋ, W) + convᵀ(x, V)
//   dx̄ = conv(dȲ, W) + conv(Ȳ, V)
//   dW̄ = corr(x, dȲ) + corr(ẋ, Ȳ)
// The bias must be constant (it is not a quantizable weight, so it needs no adjoint).

struct ConvTransposeDerivative: DerivativeRule {
    /// The dual convolution (see `ConvTransposeOperator`).
    let s: Conv2DShape

    init(_ c: DerivativeContext, _ op: ConvTransposeOperator) throws {
        if c.node.inputs.count > 2, c.node.inputs[2] != nil, c.constantInputs[2] == nil {
            throw c.failure("reverse mode needs a constant bias")
        }
        guard op.depth == nil else { throw c.failure("has no backward (reverse mode runs 1-D and 2-D ConvTranspose only)") }
        s = op.dual
    }

    /// Floats of one ConvTranspose input image ([Cin, H, W]) and output image ([Cout, OH, OW]).
    private var inImage: Int { s.outChannels * s.outHeight * s.outWidth }
    private var outImage: Int { s.inChannels * s.inHeight * s.inWidth }
    private var inCount: Int { s.batch * inImage }
    private var outCount: Int { s.batch * outImage }
    private var weightCount: Int { s.outChannels * (s.inChannels / s.group) * s.kernelH * s.kernelW }

    /// `output` (+)= convᵀ(`input`, `weight`) for `images` images.
    private func transposed(images: Int, _ input: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                            _ output: UnsafeMutablePointer<Float>, threads: Int) {
        var shape = s
        shape.batch = images
        withScratch(transposedConvolutionWorkspaceCount(shape, threads: threads), zeroed: false) { workspace in
            transposedConvolution(shape, input: input, weight: weight, output: output, accumulate: true,
                                  workspace: workspace, threads: threads)
        }
    }

    /// `target` += conv(`adjoint`, `weight`) for `images` images of output-shaped adjoints.
    private func dualConvolution(images: Int, _ adjoint: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                                 into target: UnsafeMutablePointer<Float>, threads: Int) {
        var shape = s
        shape.batch = images
        withScratch(images * inImage, zeroed: false) { product in
            withScratch(conv2dWorkspaceCount(shape, threads: threads), zeroed: false) { workspace in
                conv2d(shape, input: adjoint, weight: weight, bias: nil, output: product, workspace: workspace, threads: threads)
            }
            addInPlace(target, product, count: images * inImage, threads: threads)
        }
    }

    /// `weightAdjoint` += Σ_n x_n · col(ȳ_n)ᵀ per group: the weight gradient for input images `x`
    /// and output adjoints `adjoint` (`s.batch` of each).
    private func weightCorrelation(_ x: UnsafePointer<Float>, _ adjoint: UnsafePointer<Float>,
                                   into weightAdjoint: UnsafeMutablePointer<Float>, threads: Int) {
        let outPerGroup = s.inChannels / s.group, inPerGroup = s.outChannels / s.group
        let rows = outPerGroup * s.kernelH * s.kernelW, positions = s.outHeight * s.outWidth
        withScratch(rows * positions, zeroed: false) { col in
            for image in 0..<s.batch {
                for g in 0..<s.group {
                    s.im2col(adjoint + image * outImage, channels: (g * outPerGroup)..<((g + 1) * outPerGroup), col, ld: positions)
                    matmulAccumulate(m: inPerGroup, n: rows, k: positions, x + image * inImage + g * inPerGroup * positions, false,
                                     col, true, weightAdjoint + g * inPerGroup * rows, threads: threads)
                }
            }
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0] else { return }
        if let gx = d.inputGrad(0) { dualConvolution(images: s.batch, g, d.input(1), into: gx, threads: d.threads) }
        if let gw = d.inputGrad(1) { weightCorrelation(d.input(0), g, into: gw, threads: d.threads) }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0] else { return }
        // The probes' input tangents are just more images.
        if let tx = d.inputTangent(0) { transposed(images: d.probes * s.batch, tx, d.input(1), out, threads: d.threads) }
        if let tw = d.inputTangent(1) {
            for p in 0..<d.probes {
                transposed(images: s.batch, d.input(0), tw + p * weightCount, out + p * outCount, threads: d.threads)
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        let g = d.outputGrads[0], tg = d.outputTangentGrads[0]
        let tx = d.inputTangent(0), tw = d.inputTangent(1)
        if let tgx = d.inputTangentGrad(0) {
            if let tg { dualConvolution(images: d.probes * s.batch, tg, d.input(1), into: tgx, threads: d.threads) }
            if let g, let tw {
                for p in 0..<d.probes {
                    dualConvolution(images: s.batch, g, tw + p * weightCount, into: tgx + p * inCount, threads: d.threads)
                }
            }
        }
        if let tgw = d.inputTangentGrad(1) {
            for p in 0..<d.probes {
                if let tg { weightCorrelation(d.input(0), tg + p * outCount, into: tgw + p * weightCount, threads: d.threads) }
                if let g, let tx { weightCorrelation(tx + p * inCount, g, into: tgw + p * weightCount, threads: d.threads) }
            }
        }
    }
}
