import Kernels

/// Conv (1-D and 2-D, grouped, dilated, strided, explicit or automatic padding), NCHW.
///
/// A 1-D convolution runs as a 2-D one with height 1. An optional fused ReLU is set by the graph
/// simplifier when the Conv's only consumer is a Relu. A fourth input, set by the graph
/// simplifier's residual fusion, is added to the result before the ReLU (`Relu(Conv(x) + r)`); it
/// has the output's shape or broadcasts to it.
///
/// A constant weight is repacked for the direct kernels once (`ConvWeightPackCache`), not on every
/// pass.
struct ConvOperator: Operator {
    let outputTypes: [ValueType]
    let shape: Conv2DShape
    let relu: Bool
    let threads: Int
    let packCache: ConvWeightPackCache?
    /// Shape of the residual when it must be broadcast (nil when there is none or it has the output's shape).
    let broadcastResidual: [Int]?

    var workspaceCount: Int { conv2dWorkspaceCount(shape, threads: threads) }

    func invalidateCaches() { packCache?.invalidate() }

    func forward(_ io: OperatorIO) {
        let residual: UnsafePointer<Float>? = io.inputCount > 3 ? io.optionalInput(3) : nil
        let fusedResidual = broadcastResidual == nil ? residual : nil
        let fusedRelu = relu && (residual == nil || fusedResidual != nil)
        if let packCache {
            conv2d(shape, input: io.input(0), packedWeights: packCache.packed(for: io.input(1), shape: shape),
                   bias: io.optionalInput(2), output: io.output(0), residual: fusedResidual, relu: fusedRelu,
                   workspace: io.workspace, threads: io.threads)
        } else {
            conv2d(shape, input: io.input(0), weight: io.input(1), bias: io.optionalInput(2), output: io.output(0),
                   residual: fusedResidual, relu: fusedRelu, workspace: io.workspace, threads: io.threads)
        }
        if let residual, let residualShape = broadcastResidual {
            let y = io.output(0), shape = outputTypes[0].shape
            broadcastBinary(.add, a: y, aShape: shape, b: residual, bShape: residualShape, out: y, outShape: shape,
                            threads: io.threads)
            if relu { for i in 0..<outputTypes[0].count { y[i] = max(y[i], 0) } }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let (shape, out) = try geometry(c, weightIndex: 1, biasIndex: 2)
        var broadcastResidual: [Int]?
        if c.has(3) {
            let r = try c.shape(3)
            if r != out {
                guard Shapes.broadcast(out, r) == out else {
                    throw c.failure("the residual \(r) does not broadcast to the output \(out)")
                }
                broadcastResidual = r
            }
        }
        let constantWeight = c.constants.count > 1 && c.constants[1] != nil
        return ConvOperator(outputTypes: [ValueType(try c.type(0).dataType, out)], shape: shape,
                            relu: c.node.attributes["qscope.fused_relu"] != nil, threads: Parallel.maxThreads,
                            packCache: constantWeight ? ConvWeightPackCache() : nil, broadcastResidual: broadcastResidual)
    }
}

extension ConvOperator {
    /// A convolution's geometry from its input (0) and weight (`weightIndex`) shapes and its
    /// attributes, 1-D lifted to 2-D with a unit height, and its output shape; a bias at `biasIndex`
    /// must hold one value per output channel. Shared by Conv and the integer convolutions
    /// (ConvInteger, QLinearConv).
    static func geometry(_ c: OperatorContext, weightIndex: Int, biasIndex: Int?) throws -> (shape: Conv2DShape, output: [Int]) {
        let x = try c.shape(0), w = try c.shape(weightIndex)
        guard x.count == 3 || x.count == 4, w.count == x.count else {
            throw c.failure("only 1-D and 2-D convolutions are supported (input \(x), weight \(w))")
        }
        let spatial = x.count - 2
        let group = try c.int("group", 1)
        guard group >= 1, x[1] % group == 0, w[0] % group == 0, w[1] * group == x[1] else {
            throw c.failure("input channels \(x[1]), weight \(w) and group \(group) do not agree")
        }
        let kernel = try c.ints("kernel_shape", Array(w[2...]))
        guard kernel == Array(w[2...]) else { throw c.failure("kernel_shape \(kernel) does not match weight \(w)") }
        let strides = try c.ints("strides", Array(repeating: 1, count: spatial))
        let dilations = try c.ints("dilations", Array(repeating: 1, count: spatial))
        let inSize = Array(x[2...])
        let pads = try Padding.resolve(c, input: inSize, kernel: kernel, strides: strides, dilations: dilations)
        if let biasIndex, c.has(biasIndex), try c.shape(biasIndex) != [w[0]] {
            throw c.failure("bias \(try c.shape(biasIndex)) does not match \(w[0]) output channels")
        }
        // Lift 1-D to 2-D with a unit height.
        func two(_ v: [Int], _ fill: Int) -> [Int] { spatial == 1 ? [fill] + v : v }
        let k2 = two(kernel, 1), s2 = two(strides, 1), d2 = two(dilations, 1), in2 = two(inSize, 1)
        let begin2 = two(Array(pads[..<spatial]), 0), end2 = two(Array(pads[spatial...]), 0)
        let shape = Conv2DShape(batch: x[0], inChannels: x[1], inHeight: in2[0], inWidth: in2[1],
                                outChannels: w[0], kernelH: k2[0], kernelW: k2[1], strideH: s2[0], strideW: s2[1],
                                padTop: begin2[0], padLeft: begin2[1], padBottom: end2[0], padRight: end2[1],
                                dilationH: d2[0], dilationW: d2[1], group: group)
        guard shape.outHeight > 0, shape.outWidth > 0 else { throw c.failure("the output would be empty") }
        return (shape, spatial == 1 ? [x[0], w[0], shape.outWidth] : [x[0], w[0], shape.outHeight, shape.outWidth])
    }
}

/// Resolves ONNX `pads` / `auto_pad` into explicit [begin..., end...] pads.
enum Padding {
    static func resolve(_ c: OperatorContext, input: [Int], kernel: [Int], strides: [Int], dilations: [Int],
                        ceilMode: Bool = false) throws -> [Int] {
        let spatial = input.count
        guard kernel.count == spatial, strides.count == spatial, dilations.count == spatial else {
            throw c.failure("kernel, strides and dilations must have \(spatial) entries")
        }
        let autoPad = try c.string("auto_pad", "NOTSET")
        switch autoPad {
        case "NOTSET":
            let pads = try c.ints("pads", Array(repeating: 0, count: 2 * spatial))
            guard pads.count == 2 * spatial, pads.allSatisfy({ $0 >= 0 }) else { throw c.failure("pads \(pads) are invalid") }
            return pads
        case "VALID":
            return Array(repeating: 0, count: 2 * spatial)
        case "SAME_UPPER", "SAME_LOWER":
            var begin = [Int](), end = [Int]()
            for d in 0..<spatial {
                let out = (input[d] + strides[d] - 1) / strides[d]
                let effective = (kernel[d] - 1) * dilations[d] + 1
                let total = max((out - 1) * strides[d] + effective - input[d], 0)
                let small = total / 2, large = total - small
                begin.append(autoPad == "SAME_UPPER" ? small : large)
                end.append(autoPad == "SAME_UPPER" ? large : small)
            }
            return begin + end
        default:
            throw c.failure("auto_pad '\(autoPad)' is unknown")
        }
    }
}

/// BatchNormalization in inference form (the given mean and variance), when it could not be folded
/// into a Conv: y = (x − mean[c])/√(var[c] + ε)·scale[c] + bias[c] on x of shape [N, C, D1, ...] (any
/// rank ≥ 2), precomputed as y = x·scale'[c] + shift'[c]. Before opset 9 the `spatial` attribute = 0
/// asks for one set of statistics per activation (parameters of shape [C, D1, ...]): then each of the
/// C·D1·… activations is its own "channel" of one element. Training mode (batch statistics, the
/// running-statistics outputs) is refused; `is_test` (before opset 7) and `momentum` only matter there.
struct BatchNormOperator: Operator {
    let outputTypes: [ValueType]
    /// Channels (C, or C·D1·… per activation), each of `spatial` contiguous elements per sample.
    let channels: Int
    let spatial: Int
    let scale: [Float]
    let shift: [Float]

    func forward(_ io: OperatorIO) {
        let x = io.input(0), y = io.output(0)
        let batch = outputTypes[0].count / max(channels * spatial, 1)
        for b in 0..<batch {
            for ch in 0..<channels {
                let base = (b * channels + ch) * spatial
                let s = scale[ch], t = shift[ch]
                for i in 0..<spatial { y[base + i] = x[base + i] * s + t }
            }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        guard x.rank >= 2 else { throw c.failure("input must have a channel dim") }
        let gamma = try c.constant(1, "scale").values, beta = try c.constant(2, "bias").values
        let mean = try c.constant(3, "mean").values, variance = try c.constant(4, "variance").values
        let perActivation = try c.opset < 9 && c.int("spatial", 1) == 0
        let channels = perActivation ? Shapes.product(x.shape, 1..<x.rank) : x.shape[1]
        guard [gamma, beta, mean, variance].allSatisfy({ $0.count == channels }) else {
            throw c.failure("parameters do not match \(channels) \(perActivation ? "activations (spatial = 0)" : "channels")")
        }
        // The running-statistics outputs exist only in training mode (opset 14's `training_mode`;
        // before it, naming them is what asks for training, and ONNX Runtime then updates them).
        if c.node.outputs.count > 1 {
            throw c.failure("training mode (batch statistics, the running-statistics outputs) is not supported; "
                + "re-export the model for inference")
        }
        let epsilon = try c.float("epsilon", 1e-5)
        var scale = [Float](), shift = [Float]()
        for ch in 0..<channels {
            let s = gamma[ch] / (variance[ch] + epsilon).squareRoot()
            scale.append(s)
            shift.append(beta[ch] - mean[ch] * s)
        }
        return BatchNormOperator(outputTypes: [x], channels: channels,
                                 spatial: perActivation ? 1 : Shapes.product(x.shape, 2..<x.rank), scale: scale, shift: shift)
    }
}
