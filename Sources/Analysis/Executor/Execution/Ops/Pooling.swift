import Kernels

/// MaxPool and AveragePool over 1-D or 2-D windows (NCHW), with pads, strides, dilations (max only)
/// and `ceil_mode`; `count_include_pad` for AveragePool.
struct PoolOperator: Operator {
    let outputTypes: [ValueType]
    let shape: Pool2DShape
    let isMax: Bool
    let countIncludePad: Bool

    func forward(_ io: OperatorIO) {
        if isMax {
            maxPool2d(shape, input: io.input(0), output: io.output(0), threads: io.threads)
        } else {
            averagePool2d(shape, input: io.input(0), output: io.output(0), countIncludePad: countIncludePad, threads: io.threads)
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.shape(0)
        guard x.count == 3 || x.count == 4 else { throw c.failure("only 1-D and 2-D pooling is supported (input \(x))") }
        if c.node.outputs.count > 1 { throw c.failure("the Indices output is not supported") }
        let spatial = x.count - 2
        let isMax = c.node.opType == "MaxPool"
        guard let kernel = try c.optionalInts("kernel_shape"), kernel.count == spatial else {
            throw c.failure("kernel_shape must have \(spatial) entries")
        }
        let strides = try c.ints("strides", Array(repeating: 1, count: spatial))
        let dilations = try c.ints("dilations", Array(repeating: 1, count: spatial))
        if !isMax && dilations.contains(where: { $0 != 1 }) { throw c.failure("dilated average pooling is not supported") }
        let storageOrder = try c.int("storage_order", 0)
        if isMax && storageOrder != 0 { throw c.failure("storage_order 1 is not supported") }
        let ceilMode = try c.int("ceil_mode", 0) != 0
        let input = Array(x[2...])
        let pads = try Padding.resolve(c, input: input, kernel: kernel, strides: strides, dilations: dilations)
        let outSize = (0..<spatial).map { d in
            Pool2DShape.outputSize(input: input[d], kernel: kernel[d], stride: strides[d], padBegin: pads[d],
                                   padEnd: pads[d + spatial], dilation: dilations[d], ceilMode: ceilMode)
        }
        guard outSize.allSatisfy({ $0 > 0 }) else { throw c.failure("the window is larger than the padded input") }
        func two(_ v: [Int], _ fill: Int) -> [Int] { spatial == 1 ? [fill] + v : v }
        let k2 = two(kernel, 1), s2 = two(strides, 1), d2 = two(dilations, 1), in2 = two(input, 1), o2 = two(outSize, 1)
        let begin = two(Array(pads[..<spatial]), 0), end = two(Array(pads[spatial...]), 0)
        let shape = Pool2DShape(batch: x[0], channels: x[1], inHeight: in2[0], inWidth: in2[1], outHeight: o2[0],
                                outWidth: o2[1], kernelH: k2[0], kernelW: k2[1], strideH: s2[0], strideW: s2[1],
                                padTop: begin[0], padLeft: begin[1], padBottom: end[0], padRight: end[1],
                                dilationH: d2[0], dilationW: d2[1])
        return PoolOperator(outputTypes: [ValueType(try c.type(0).dataType, Array(x[..<2]) + outSize)], shape: shape,
                            isMax: isMax, countIncludePad: try c.int("count_include_pad", 0) != 0)
    }
}

/// GlobalAveragePool and GlobalMaxPool: one value per (n, c), spatial dims kept as 1.
struct GlobalPoolOperator: Operator {
    let outputTypes: [ValueType]
    let planes: Int
    let spatial: Int
    let isMax: Bool

    func forward(_ io: OperatorIO) {
        reduce(isMax ? .max : .mean, input: io.input(0), output: io.output(0), outer: planes, reduceLength: spatial, inner: 1,
               threads: io.threads)
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        guard x.rank >= 3 else { throw c.failure("input must be at least 3-D") }
        return GlobalPoolOperator(outputTypes: [ValueType(x.dataType, Array(x.shape[..<2]) + Array(repeating: 1, count: x.rank - 2))],
                                  planes: x.shape[0] * x.shape[1], spatial: Shapes.product(x.shape, 2..<x.rank),
                                  isMax: c.node.opType == "GlobalMaxPool")
    }
}
