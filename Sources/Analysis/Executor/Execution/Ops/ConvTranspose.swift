import Kernels

/// ConvTranspose (1-D, 2-D and 3-D; grouped, dilated, strided, padded, `output_padding`,
/// `output_shape`, `auto_pad`), NCW / NCHW / NCDHW.
///
/// A transposed convolution is the input gradient of a convolution: the *dual* convolution `dual`
/// (a `Conv2DShape`) reads an image of the ConvTranspose's output shape and writes one of its input
/// shape, with the same kernel, strides, dilations, begin pads and group. The ConvTranspose weight
/// [Cin, Cout/group, kH, kW] is that convolution's weight [outChannels, inChannels/group, kH, kW],
/// so `dual.outChannels` is the ConvTranspose's input channels and `dual.inChannels` its output
/// channels. The forward pass is `transposedConvolution` (a GEMM and col2im per image and group);
/// reverse mode (`ConvTransposeDerivative`) runs the dual convolution itself for the input adjoint.
/// A 1-D transposed convolution runs as a 2-D one with height 1; a 3-D one as a sum of 2-D ones over
/// pairs of input depth and kernel depth (`DepthAxis`), which reverse mode does not differentiate.
struct ConvTransposeOperator: Operator {
    let outputTypes: [ValueType]
    /// The dual convolution of one depth slice for 3-D.
    let dual: Conv2DShape
    /// The depth axis of a 3-D transposed convolution; nil for 1-D and 2-D.
    let depth: DepthAxis?
    let threads: Int

    /// The depth axis of a 3-D ConvTranspose: input depth `in` position i and kernel depth k write
    /// output depth i·stride − begin + k·dilation.
    struct DepthAxis {
        let input: Int
        let output: Int
        let kernel: Int
        let stride: Int
        let dilation: Int
        let begin: Int
    }

    /// For 3-D: a depth slice of the input, of the weight and of the output before the slices' own
    /// workspace.
    private var sliceFloats: (input: Int, weight: Int, output: Int) {
        let s = dual
        return (s.batch * s.outChannels * s.outHeight * s.outWidth, s.outChannels * (s.inChannels / s.group) * s.kernelH * s.kernelW,
                s.batch * s.inChannels * s.inHeight * s.inWidth)
    }

    var workspaceCount: Int {
        let slices = depth == nil ? 0 : sliceFloats.input + sliceFloats.weight + sliceFloats.output
        return slices + transposedConvolutionWorkspaceCount(dual, threads: threads)
    }

    func forward(_ io: OperatorIO) {
        let plane: Int
        if let depth {
            forward3D(io, depth)
            plane = depth.output * dual.inHeight * dual.inWidth
        } else {
            transposedConvolution(dual, input: io.input(0), weight: io.input(1), output: io.output(0), accumulate: false,
                                  workspace: io.workspace, threads: min(io.threads, threads))
            plane = dual.inHeight * dual.inWidth
        }
        guard let bias = io.optionalInput(2) else { return }
        let y = io.output(0)
        for image in 0..<dual.batch {
            for channel in 0..<dual.inChannels {
                let row = y + (image * dual.inChannels + channel) * plane, b = bias[channel]
                for i in 0..<plane { row[i] += b }
            }
        }
    }

    /// Y[:, :, od] += convᵀ₂(X[:, :, id], W[:, :, :, kd]) for every input depth id and kernel depth
    /// kd whose output depth od is inside the output: each slice copied to contiguous buffers first.
    private func forward3D(_ io: OperatorIO, _ depth: DepthAxis) {
        let s = dual, sizes = sliceFloats
        let (inChannels, outChannels) = (s.outChannels, s.inChannels)
        let inPlane = s.outHeight * s.outWidth, outPlane = s.inHeight * s.inWidth
        let taps = s.kernelH * s.kernelW, weightRows = s.outChannels * (s.inChannels / s.group)
        let x = io.input(0), w = io.input(1), y = io.output(0)
        let xSlice = io.workspace, wSlice = xSlice + sizes.input, ySlice = wSlice + sizes.weight
        let columns = ySlice + sizes.output
        y.update(repeating: 0, count: outputTypes[0].count)
        for k in 0..<depth.kernel {
            for row in 0..<weightRows {
                (wSlice + row * taps).update(from: w + (row * depth.kernel + k) * taps, count: taps)
            }
            for i in 0..<depth.input {
                let o = i * depth.stride - depth.begin + k * depth.dilation
                guard o >= 0 && o < depth.output else { continue }
                for image in 0..<s.batch {
                    for channel in 0..<inChannels {
                        let plane = image * inChannels + channel
                        (xSlice + plane * inPlane).update(from: x + (plane * depth.input + i) * inPlane, count: inPlane)
                    }
                }
                transposedConvolution(s, input: xSlice, weight: wSlice, output: ySlice, accumulate: false,
                                      workspace: columns, threads: min(io.threads, threads))
                for image in 0..<s.batch {
                    for channel in 0..<outChannels {
                        let plane = image * outChannels + channel
                        let target = y + (plane * depth.output + o) * outPlane, source = ySlice + plane * outPlane
                        for e in 0..<outPlane { target[e] += source[e] }
                    }
                }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.shape(0), w = try c.shape(1)
        guard (3...5).contains(x.count), w.count == x.count else {
            throw c.failure("only 1-D, 2-D and 3-D transposed convolutions are supported (input \(x), weight \(w))")
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
        // Lift 1-D to 2-D with a unit height; a 3-D one's slices are its last two axes.
        func two(_ v: [Int], _ fill: Int) -> [Int] { spatial == 1 ? [fill] + v : Array(v.suffix(2)) }
        let k2 = two(kernel, 1), s2 = two(strides, 1), d2 = two(dilations, 1), out2 = two(geometry.output, 1)
        let begin2 = two(geometry.begin, 0), end2 = two(geometry.dualEnd, 0), in2 = two(inSize, 1)
        let depth = spatial < 3 ? nil : DepthAxis(input: inSize[0], output: geometry.output[0], kernel: kernel[0],
                                                  stride: strides[0], dilation: dilations[0], begin: geometry.begin[0])
        let dual = Conv2DShape(batch: x[0], inChannels: outChannels, inHeight: out2[0], inWidth: out2[1],
                               outChannels: x[1], kernelH: k2[0], kernelW: k2[1], strideH: s2[0], strideW: s2[1],
                               padTop: begin2[0], padLeft: begin2[1], padBottom: end2[0], padRight: end2[1],
                               dilationH: d2[0], dilationW: d2[1], group: group)
        // `resolve` chose the dual end pads for this; a failure here is a bug, not bad input.
        guard dual.outHeight == in2[0], dual.outWidth == in2[1] else {
            throw c.failure("internal: the dual convolution of \(dual) does not map back to the input \(inSize)")
        }
        return ConvTransposeOperator(outputTypes: [ValueType(try c.type(0).dataType, [x[0], outChannels] + geometry.output)],
                                     dual: dual, depth: depth, threads: Parallel.maxThreads)
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
