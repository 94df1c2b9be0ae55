import Kernels

/// ONNX `QLinearConv` and `ConvInteger` (opset 10): 1-D and 2-D convolution of integer codes, NCHW.
///
/// Both accumulate `Σ (x − x_zp)·(w − w_zp)` exactly (`ExactIntegerProduct`; padding contributes 0,
/// as a padded input equal to `x_zp` would). `w_zp` and `w_scale` are one value or one per output
/// channel; `x_zp`, `x_scale`, `y_scale`, `y_zp` one value.
/// - ConvInteger writes the int32 sum.
/// - QLinearConv adds the int32 bias `B` (scale `x_scale·w_scale`) and requantizes:
///   `y = saturate(round_half_even(Float(acc)·M) + y_zp)` with `M = (x_scale·w_scale[c]) / y_scale`
///   computed in float32 in that order, as ONNX Runtime's CPU kernel does (its requantization
///   multiplies the float32-converted accumulator by that per-channel multiplier), so that rounding
///   ties and near-ties land on the same code.
///
/// The weight may come as codes or as dequantized floats (`QuantizedWeightForm`); a float weight off
/// its stored grid runs as `y = saturate(round((acc_f + B·w_scale)·x_scale / y_scale) + y_zp)` with
/// `acc_f = Σ (x − x_zp)·W` (for ConvInteger: `acc_f` itself).
struct QuantizedConvOperator: Operator {
    enum Kind: Sendable {
        /// QLinearConv, writing codes of this type.
        case qlinear(DataType)
        case integer
    }

    let outputTypes: [ValueType]
    let kind: Kind
    let shape: Conv2DShape
    let weightForm: QuantizedWeightForm
    let weightIndex: Int
    let weightZeroPointIndex: Int
    let inputZeroPointIndex: Int
    /// Entries of the weight's zero point and scale (1 or the output channel count).
    let weightZeroPointCount: Int
    let weightScaleCount: Int
    /// QLinearConv's bias when constant, exact (int32 values beyond 2^24 are not exact as Float).
    let constantBias: [Double]?

    private var reduction: Int { shape.inChannels / shape.group * shape.kernelH * shape.kernelW }
    private var positions: Int { shape.outHeight * shape.outWidth }
    private var groupChannels: Int { shape.outChannels / shape.group }

    /// Floats before the Double accumulator, rounded up to an even count so that it is 8-byte aligned.
    private var accumulatorOffset: Int {
        let floats = shape.outChannels * reduction + reduction * positions + groupChannels * positions
        return (floats + 1) / 2 * 2
    }

    /// Centred weight, one group's im2col matrix, the GEMM's chunk result and the Double accumulator.
    var workspaceCount: Int { accumulatorOffset + 2 * groupChannels * positions }

    func forward(_ io: OperatorIO) {
        let x = io.input(0), y = io.output(0)
        let k = reduction, p = positions, ocg = groupChannels
        let centredWeight = io.workspace
        let columns = centredWeight + shape.outChannels * k
        let scratch = columns + k * p
        let accumulator = UnsafeMutableRawPointer(io.workspace + accumulatorOffset).bindMemory(to: Double.self, capacity: ocg * p)
        var weightScales: UnsafePointer<Float>? = nil
        if case .qlinear = kind { weightScales = io.input(4) }
        let onGrid = centreWeight(io.input(weightIndex), form: weightForm, outer: 1, channels: shape.outChannels, inner: k,
                                  zeroPoints: io.optionalInput(weightZeroPointIndex), zeroPointCount: weightZeroPointCount,
                                  scales: weightForm == .dequantized ? weightScales : nil, scaleCount: weightScaleCount,
                                  into: centredWeight)
        let weightBound = ExactIntegerProduct.bound(centredWeight, count: shape.outChannels * k)
        let inputZero = io.optionalInput(inputZeroPointIndex)?[0] ?? 0
        let inChannelsPerGroup = shape.inChannels / shape.group
        let plane = shape.inHeight * shape.inWidth
        for b in 0..<shape.batch {
            for g in 0..<shape.group {
                // im2col of the centred input: row (ci, ky, kx), column (oy, ox); padding is 0.
                var inputBound: Float = 0
                for ci in 0..<inChannelsPerGroup {
                    let source = x + (b * shape.inChannels + g * inChannelsPerGroup + ci) * plane
                    for ky in 0..<shape.kernelH {
                        for kx in 0..<shape.kernelW {
                            let row = columns + ((ci * shape.kernelH + ky) * shape.kernelW + kx) * p
                            for oy in 0..<shape.outHeight {
                                let iy = oy * shape.strideH - shape.padTop + ky * shape.dilationH
                                for ox in 0..<shape.outWidth {
                                    let ix = ox * shape.strideW - shape.padLeft + kx * shape.dilationW
                                    var v: Float = 0
                                    if iy >= 0, iy < shape.inHeight, ix >= 0, ix < shape.inWidth {
                                        v = source[iy * shape.inWidth + ix] - inputZero
                                    }
                                    row[oy * shape.outWidth + ox] = v
                                    inputBound = max(inputBound, abs(v))
                                }
                            }
                        }
                    }
                }
                ExactIntegerProduct.multiply(m: ocg, n: p, k: k, a: centredWeight + g * ocg * k, lda: k, aBound: weightBound,
                                             b: columns, ldb: p, bBound: inputBound, accumulator: accumulator,
                                             scratch: scratch, threads: io.threads)
                for local in 0..<ocg {
                    let oc = g * ocg + local
                    let out = y + (b * shape.outChannels + oc) * p
                    let sums = accumulator + local * p
                    write(channel: oc, sums: sums, count: p, onGrid: onGrid, io: io, into: out)
                }
            }
        }
    }

    /// One output channel's values from its accumulated sums.
    private func write(channel oc: Int, sums: UnsafePointer<Double>, count: Int, onGrid: Bool, io: OperatorIO,
                       into out: UnsafeMutablePointer<Float>) {
        switch kind {
        case .integer:
            for i in 0..<count { out[i] = Float(sums[i]) }
        case .qlinear(let type):
            let inputScale = io.input(1)[0], weightScale = io.input(4)[weightScaleCount == 1 ? 0 : oc]
            let outputScale = io.input(6)[0], outputZero = io.input(7)[0]
            let bias = constantBias?[oc] ?? io.optionalInput(8).map { Double($0[oc]) } ?? 0
            let requantizer = Requantizer(type: type, zeroPoint: outputZero)
            if onGrid {
                let multiplier = (inputScale * weightScale) / outputScale
                for i in 0..<count { out[i] = requantizer.code(Float(sums[i] + bias) * multiplier) }
            } else {
                let factor = Double(inputScale) / Double(outputScale), shift = bias * Double(weightScale)
                for i in 0..<count { out[i] = requantizer.code(Float((sums[i] + shift) * factor)) }
            }
        }
    }

    static func qlinearConv(_ c: OperatorContext) throws -> Operator {
        let outputType = try c.type(7).dataType
        guard outputType == .uint8 || outputType == .int8 else { throw c.failure("y_zero_point must be uint8 or int8, not \(outputType)") }
        for (index, what) in [(1, "x_scale"), (2, "x_zero_point"), (6, "y_scale"), (7, "y_zero_point")] {
            guard try c.type(index).count == 1 else { throw c.failure("\(what) must hold one value (per-tensor)") }
        }
        return try make(c, kind: .qlinear(outputType), weightIndex: 3, inputZeroPointIndex: 2, weightZeroPointIndex: 5,
                        weightScaleIndex: 4, biasIndex: 8)
    }

    static func convInteger(_ c: OperatorContext) throws -> Operator {
        if c.has(2), try c.type(2).count != 1 { throw c.failure("x_zero_point must hold one value (per-tensor)") }
        return try make(c, kind: .integer, weightIndex: 1, inputZeroPointIndex: 2, weightZeroPointIndex: 3,
                        weightScaleIndex: nil, biasIndex: nil)
    }

    private static func make(_ c: OperatorContext, kind: Kind, weightIndex: Int, inputZeroPointIndex: Int,
                             weightZeroPointIndex: Int, weightScaleIndex: Int?, biasIndex: Int?) throws -> Operator {
        let (shape, out) = try ConvOperator.geometry(c, weightIndex: weightIndex, biasIndex: biasIndex)
        let channels = shape.outChannels
        func perChannelCount(_ index: Int?, _ what: String) throws -> Int {
            guard let index, c.has(index) else { return 1 }
            let count = try c.type(index).count
            guard count == 1 || count == channels else {
                throw c.failure("\(what) has \(count) values; it must hold one or one per output channel (\(channels))")
            }
            return count
        }
        var constantBias: [Double]?
        if let biasIndex, c.has(biasIndex) {
            constantBias = c.constants.count > biasIndex ? c.constants[biasIndex]?.integerValues.map { Double($0) } : nil
        }
        let outputType: DataType
        switch kind {
        case .qlinear(let type): outputType = type
        case .integer: outputType = .int32
        }
        return QuantizedConvOperator(outputTypes: [ValueType(outputType, out)], kind: kind, shape: shape,
                                     weightForm: QuantizedWeightForm(try c.type(weightIndex).dataType), weightIndex: weightIndex,
                                     weightZeroPointIndex: weightZeroPointIndex, inputZeroPointIndex: inputZeroPointIndex,
                                     weightZeroPointCount: try perChannelCount(weightZeroPointIndex, "w_zero_point"),
                                     weightScaleCount: try perChannelCount(weightScaleIndex, "w_scale"),
                                     constantBias: constantBias)
    }
}

/// The last step of a QLinear op: a real value in units of the output scale to a saturated code,
/// `saturate(round_half_even(v) + zero_point)`.
struct Requantizer {
    let low: Float, high: Float, zeroPoint: Float

    init(type: DataType, zeroPoint: Float) {
        (low, high) = LinearQuantizationOperator.range(type)
        self.zeroPoint = zeroPoint
    }

    @inline(__always) func code(_ v: Float) -> Float {
        let q = v.rounded(.toNearestOrEven) + zeroPoint
        if q.isNaN { return zeroPoint }
        return min(max(q, low), high)
    }
}
