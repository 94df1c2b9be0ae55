import Kernels

/// ConvTranspose (1-D and 2-D; grouped, dilated, strided, padded, `output_padding`, `output_shape`,
/// `auto_pad`), NCHW.
///
/// A transposed convolution is the input gradient of a convolution: the *dual* convolution `dual`
/// (a `Conv2DShape`) reads an image of the ConvTranspose's output shape and writes one of its input
/// shape, with the same kernel, strides, dilations, begin pads and group. The ConvTranspose weight
/// [Cin, Cout/group, kH, kW] is that convolution's weight [outChannels, inChannels/group, kH, kW],
/// so `dual.outChannels` is the ConvTranspose's input channels and `dual.inChannels` its output
/// channels. The forward pass is `transposedConvolution` (a GEMM and col2im per image and group);
/// reverse mode (`ConvTransposeDerivative`) runs the dual convolution itself for the input adjoint.
/// A 1-D transposed convolution runs as a 2-D one with height 1.
struct ConvTransposeOperator: Operator {
    let outputTypes: [ValueType]
    let dual: Conv2DShape
    let threads: Int

    var workspaceCount: Int { transposedConvolutionWorkspaceCount(dual, threads: threads) }

    func forward(_ io: OperatorIO) {
        transposedConvolution(dual, input: io.input(0), weight: io.input(1), output: io.output(0), accumulate: false,
                              workspace: io.workspace, threads: min(io.threads, threads))
        guard let bias = io.optionalInput(2) else { return }
        let plane = dual.inHeight * dual.inWidth, y = io.output(0)
        for image in 0..<dual.batch {
            for channel in 0..<dual.inChannels {
                let row = y + (image * dual.inChannels + channel) * plane, b = bias[channel]
                for i in 0..<plane { row[i] += b }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.shape(0), w = try c.shape(1)
        guard x.count == 3 || x.count == 4, w.count == x.count else {
            throw c.failure("only 1-D and 2-D transposed convolutions are supported (input \(x), weight \(w))")
        }
        let spatial = x.count - 2
        let group = try c.int("group", 1)
        guard group >= 1, w[0] == x[1], x[1] % group == 0, w[1] >= 1 else {
            throw c.failure("input channels \(x[1]), weight \(w) and group \(group) do not agree (weight [Cin, Cout/group, k...])")
        }
        let kernel = try c.ints("kernel_shape", Array(w[2...]))
        guard kernel == Array(w[2...]) else { throw c.failure("kernel_shape \(kernel) does not match weight \(w)") }
        let strides = try c.ints("strides", Array(repeating: 1, count: spatial))
        let dilations = try c.ints("dilations", Array(repeating: 1, count: spatial))
        let outputPadding = try c.ints("output_padding", Array(repeating: 0, count: spatial))
        guard strides.count == spatial, dilations.count == spatial, outputPadding.count == spatial,
              strides.allSatisfy({ (1...(1 << 20)).contains($0) }), dilations.allSatisfy({ (1...(1 << 20)).contains($0) }),
              outputPadding.allSatisfy({ (0...(1 << 20)).contains($0) }) else {
            throw c.failure("strides \(strides), dilations \(dilations) and output_padding \(outputPadding) must have "
                            + "\(spatial) entries (strides and dilations from 1, output_padding from 0, all at most 2^20)")
        }
        let outChannels = w[1] * group
        if c.has(2), try c.shape(2) != [outChannels] {
            throw c.failure("bias \(try c.shape(2)) does not match \(outChannels) output channels")
        }
        let inSize = Array(x[2...])
        let geometry = try ConvTransposeGeometry.resolve(c, input: inSize, kernel: kernel, strides: strides,
                                                         dilations: dilations, outputPadding: outputPadding)
        // Lift 1-D to 2-D with a unit height.
        func two(_ v: [Int], _ fill: Int) -> [Int] { spatial == 1 ? [fill] + v : v }
        let k2 = two(kernel, 1), s2 = two(strides, 1), d2 = two(dilations, 1), out2 = two(geometry.output, 1)
        let begin2 = two(geometry.begin, 0), end2 = two(geometry.dualEnd, 0), in2 = two(inSize, 1)
        let dual = Conv2DShape(batch: x[0], inChannels: outChannels, inHeight: out2[0], inWidth: out2[1],
                               outChannels: x[1], kernelH: k2[0], kernelW: k2[1], strideH: s2[0], strideW: s2[1],
                               padTop: begin2[0], padLeft: begin2[1], padBottom: end2[0], padRight: end2[1],
                               dilationH: d2[0], dilationW: d2[1], group: group)
        // `resolve` chose the dual end pads for this; a failure here is a bug, not bad input.
        guard dual.outHeight == in2[0], dual.outWidth == in2[1] else {
            throw c.failure("internal: the dual convolution of \(dual) does not map back to the input \(inSize)")
        }
        return ConvTransposeOperator(outputTypes: [ValueType(try c.type(0).dataType, [x[0], outChannels] + geometry.output)],
                                     dual: dual, threads: Parallel.maxThreads)
    }
}

/// The output size and pads of a ConvTranspose, per spatial axis, as ONNX Runtime computes them.
///
/// The full output of input size `in` is `natural = stride·(in − 1) + output_padding +
/// dilation·(kernel − 1) + 1`; the output is `natural − begin − end`. Pads come from `pads`
/// (NOTSET), from `auto_pad` (SAME_UPPER / SAME_LOWER: output `in·stride`; VALID: no pads), or from
/// `output_shape`, which wins over both: its total pad `natural − output_shape` is split with the
/// odd one at the end for SAME_UPPER and at the beginning otherwise. An `output_shape` above
/// `natural` leaves rows and columns that no input reaches (they hold the bias), as long as the
/// dual convolution still maps the output back to `in` positions; otherwise the shape is refused.
struct ConvTransposeGeometry {
    /// Output size per spatial axis.
    var output: [Int]
    /// Pads cropped from the start of the full output.
    var begin: [Int]
    /// End pads of the dual convolution (output → input): the smallest non-negative pad for which it
    /// has exactly `in` outputs (equal to the ConvTranspose's end pad when output_padding is 0).
    var dualEnd: [Int]

    static func resolve(_ c: OperatorContext, input: [Int], kernel: [Int], strides: [Int], dilations: [Int],
                        outputPadding: [Int]) throws -> ConvTransposeGeometry {
        let spatial = input.count
        guard kernel.count == spatial else { throw c.failure("kernel_shape must have \(spatial) entries") }
        let autoPad = try c.string("auto_pad", "NOTSET")
        guard ["NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"].contains(autoPad) else {
            throw c.failure("auto_pad '\(autoPad)' is unknown")
        }
        let outputShape = try c.optionalInts("output_shape").map { $0.count == spatial + 2 ? Array($0[2...]) : $0 }
        if let outputShape, outputShape.count != spatial || outputShape.contains(where: { $0 < 1 }) {
            throw c.failure("output_shape \(outputShape) must have \(spatial) positive entries")
        }
        var pads = Array(repeating: 0, count: 2 * spatial)
        if autoPad == "NOTSET", outputShape == nil {
            pads = try c.ints("pads", pads)
            guard pads.count == 2 * spatial, pads.allSatisfy({ $0 >= 0 }) else {
                throw c.failure("pads \(pads) are invalid (\(2 * spatial) non-negative entries)")
            }
        }
        var geometry = ConvTransposeGeometry(output: [], begin: [], dualEnd: [])
        for d in 0..<spatial {
            let effective = dilations[d] * (kernel[d] - 1) + 1
            let natural = strides[d] * (input[d] - 1) + outputPadding[d] + effective
            var begin = pads[d], end = pads[spatial + d]
            var wanted: Int? = outputShape?[d]
            if wanted == nil, autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER" { wanted = input[d] * strides[d] }
            if let wanted {
                let total = max(natural - wanted, 0)
                let small = total / 2, large = total - small
                (begin, end) = autoPad == "SAME_UPPER" ? (small, large) : (large, small)
            }
            let output = wanted ?? (natural - begin - end)
            guard output >= 1 else {
                throw c.failure("the output would be empty (axis \(d): input \(input[d]), pads \(begin)+\(end))")
            }
            // Dual end pads e with floor((output + begin + e − effective) / stride) + 1 == input:
            // e in [low, low + stride − 1].
            let low = strides[d] * (input[d] - 1) + effective - output - begin
            let dualEnd = max(low, 0)
            guard dualEnd <= low + strides[d] - 1 else {
                let largest = natural - begin + strides[d] - 1 - outputPadding[d]
                throw c.failure("output size \(output) on spatial axis \(d) does not fit input size \(input[d]) "
                                + "(kernel \(kernel[d]), stride \(strides[d]), dilation \(dilations[d]), begin pad \(begin): "
                                + "at most \(largest))")
            }
            geometry.output.append(output)
            geometry.begin.append(begin)
            geometry.dualEnd.append(dualEnd)
        }
        return geometry
    }
}

/// Floats of workspace `transposedConvolution` needs: one column matrix
/// [Cout/group · kH · kW, H · W] per image processed in parallel.
func transposedConvolutionWorkspaceCount(_ dual: Conv2DShape, threads: Int) -> Int {
    let rows = dual.inChannels / dual.group * dual.kernelH * dual.kernelW
    return rows * dual.outHeight * dual.outWidth * max(1, min(threads, dual.batch))
}

/// `output` (+)= convᵀ(`input`, `weight`) for the `dual.batch` images of a transposed convolution
/// (see `ConvTransposeOperator`): `input` [N, dual.outChannels, dual.outHeight, dual.outWidth] (the
/// ConvTranspose's input), `weight` [dual.outChannels, dual.inChannels / group, kH, kW], `output`
/// [N, dual.inChannels, dual.inHeight, dual.inWidth]. Per image and group the column matrix is
/// Wᵍᵀ·xᵍ (one GEMM) and col2im adds it into the output; `accumulate` false zeroes the output first.
/// `workspace` holds `transposedConvolutionWorkspaceCount(dual, threads:)` floats. Several images
/// run on separate threads; a single image gives its threads to the GEMM.
func transposedConvolution(_ dual: Conv2DShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           output: UnsafeMutablePointer<Float>, accumulate: Bool, workspace: UnsafeMutablePointer<Float>,
                           threads: Int) {
    let s = dual
    let outPerGroup = s.inChannels / s.group, inPerGroup = s.outChannels / s.group
    let rows = outPerGroup * s.kernelH * s.kernelW, positions = s.outHeight * s.outWidth
    let outImage = s.inChannels * s.inHeight * s.inWidth, inImage = s.outChannels * positions
    if !accumulate { output.update(repeating: 0, count: s.batch * outImage) }
    guard s.batch > 0, rows > 0, positions > 0, inPerGroup > 0 else { return }
    let workers = max(1, min(threads, s.batch))
    let gemmThreads = workers > 1 ? 1 : threads
    Parallel.forEach(workers, threads: workers) { worker in
        let col = workspace + worker * rows * positions
        for image in (s.batch * worker / workers)..<(s.batch * (worker + 1) / workers) {
            for g in 0..<s.group {
                sgemm(m: rows, n: positions, k: inPerGroup, a: weight + g * inPerGroup * rows, lda: rows, transA: true,
                      b: input + image * inImage + g * inPerGroup * positions, ldb: positions, transB: false,
                      c: col, ldc: positions, threads: gemmThreads)
                s.col2im(col, channels: (g * outPerGroup)..<((g + 1) * outPerGroup), output + image * outImage, ld: positions)
            }
        }
    }
}
