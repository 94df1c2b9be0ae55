import Kernels

/// ONNX `QLinearMatMul` and `MatMulInteger` (opset 10): numpy-style MatMul of integer codes.
///
/// Both accumulate `Σ_k (a − a_zp)·(b − b_zp)` exactly (`ExactIntegerProduct`). Batch dims broadcast
/// as in MatMul; a 1-D A or B is promoted and the added dim removed. `a_zp` is one value or one per
/// row of A (MatMulInteger: `[M]`), `b_zp` and `b_scale` one value or one per column of B (`[N]`).
/// - MatMulInteger writes the int32 sum.
/// - QLinearMatMul requantizes with one `a_scale`, `y_scale` and `y_zp`:
///   `y = saturate(round_half_even(Float(acc)·M) + y_zp)`, `M = (a_scale·b_scale[j]) / y_scale` in
///   float32, in the order ONNX Runtime's kernel computes it (see `QuantizedConvOperator`).
///
/// B may come as codes or as dequantized floats (`QuantizedWeightForm`); off its stored grid it runs as
/// `y = saturate(round(acc_f·a_scale / y_scale) + y_zp)` with `acc_f = Σ (a − a_zp)·B`.
struct QuantizedMatMulOperator: Operator {
    let outputTypes: [ValueType]
    /// QLinearMatMul's output code type; nil for MatMulInteger.
    let qlinearType: DataType?
    let m: Int, n: Int, k: Int
    let batch: Int
    /// Matrix index in A and in B of every output matrix.
    let aIndex: [Int], bIndex: [Int]
    let bMatrices: Int
    let weightForm: QuantizedWeightForm
    let aZeroPointIndex: Int, weightInput: Int, bZeroPointIndex: Int, bScaleIndex: Int?
    let aZeroPointCount: Int, bZeroPointCount: Int, bScaleCount: Int

    /// Floats before the Double accumulator, rounded up to an even count so that it is 8-byte aligned.
    private var accumulatorOffset: Int { (bMatrices * k * n + m * k + m * n + 1) / 2 * 2 }

    /// Centred B (all its matrices), one centred A matrix, the chunk result and the Double accumulator.
    var workspaceCount: Int { accumulatorOffset + 2 * m * n }

    func forward(_ io: OperatorIO) {
        let a = io.input(0), y = io.output(0)
        let centredB = io.workspace
        let centredA = centredB + bMatrices * k * n
        let scratch = centredA + m * k
        let accumulator = UnsafeMutableRawPointer(io.workspace + accumulatorOffset).bindMemory(to: Double.self, capacity: m * n)
        let bScales = bScaleIndex.map { io.input($0) }
        let onGrid = centreWeight(io.input(weightInput), form: weightForm, outer: bMatrices * k, channels: n, inner: 1,
                                  zeroPoints: io.optionalInput(bZeroPointIndex), zeroPointCount: bZeroPointCount,
                                  scales: weightForm == .dequantized ? bScales : nil, scaleCount: bScaleCount,
                                  into: centredB)
        let bBound = ExactIntegerProduct.bound(centredB, count: bMatrices * k * n)
        let aZeros = io.optionalInput(aZeroPointIndex)
        for index in 0..<batch {
            let source = a + aIndex[index] * m * k
            var aBound: Float = 0
            for row in 0..<m {
                let zero = aZeros?[aZeroPointCount == 1 ? 0 : row] ?? 0
                for p in 0..<k {
                    let v = source[row * k + p] - zero
                    centredA[row * k + p] = v
                    aBound = max(aBound, abs(v))
                }
            }
            ExactIntegerProduct.multiply(m: m, n: n, k: k, a: centredA, lda: k, aBound: aBound,
                                         b: centredB + bIndex[index] * k * n, ldb: n, bBound: bBound,
                                         accumulator: accumulator, scratch: scratch, threads: io.threads)
            let out = y + index * m * n
            guard let type = qlinearType, let bScales else {
                for i in 0..<(m * n) { out[i] = Float(accumulator[i]) }
                continue
            }
            let aScale = io.input(1)[0], yScale = io.input(6)[0]
            let requantizer = Requantizer(type: type, zeroPoint: io.input(7)[0])
            for j in 0..<n {
                let bScale = bScales[bScaleCount == 1 ? 0 : j]
                if onGrid {
                    let multiplier = (aScale * bScale) / yScale
                    for row in 0..<m { out[row * n + j] = requantizer.code(Float(accumulator[row * n + j]) * multiplier) }
                } else {
                    let factor = Double(aScale) / Double(yScale)
                    for row in 0..<m { out[row * n + j] = requantizer.code(Float(accumulator[row * n + j] * factor)) }
                }
            }
        }
    }

    static func qlinearMatMul(_ c: OperatorContext) throws -> Operator {
        let outputType = try c.type(7).dataType
        guard outputType == .uint8 || outputType == .int8 else { throw c.failure("y_zero_point must be uint8 or int8, not \(outputType)") }
        for (index, what) in [(1, "a_scale"), (2, "a_zero_point"), (6, "y_scale"), (7, "y_zero_point")] {
            guard try c.type(index).count == 1 else {
                throw c.failure("\(what) must hold one value (per-tensor); per-row scales are not supported")
            }
        }
        return try make(c, qlinearType: outputType, bIndex: 3, aZeroPointIndex: 2, bZeroPointIndex: 5, bScaleIndex: 4)
    }

    static func matMulInteger(_ c: OperatorContext) throws -> Operator {
        try make(c, qlinearType: nil, bIndex: 1, aZeroPointIndex: 2, bZeroPointIndex: 3, bScaleIndex: nil)
    }

    private static func make(_ c: OperatorContext, qlinearType: DataType?, bIndex bInput: Int, aZeroPointIndex: Int,
                             bZeroPointIndex: Int, bScaleIndex: Int?) throws -> Operator {
        let product = try MatMulGeometry(c, bInput: bInput)
        let (m, n) = (product.m, product.n)
        func count(_ index: Int?, _ what: String, _ allowed: Int, _ along: String) throws -> Int {
            guard let index, c.has(index) else { return 1 }
            let type = try c.type(index)
            guard type.count == 1 || (type.rank == 1 && type.count == allowed) else {
                throw c.failure("\(what) of shape \(type.shape) must hold one value or one per \(along) (\(allowed))")
            }
            return type.count
        }
        return QuantizedMatMulOperator(
            outputTypes: [ValueType(qlinearType ?? .int32, product.outShape)], qlinearType: qlinearType, m: m, n: n, k: product.k,
            batch: product.batch, aIndex: product.aIndex, bIndex: product.bIndex, bMatrices: product.bMatrices,
            weightForm: QuantizedWeightForm(try c.type(bInput).dataType), aZeroPointIndex: aZeroPointIndex, weightInput: bInput,
            bZeroPointIndex: bZeroPointIndex, bScaleIndex: bScaleIndex,
            aZeroPointCount: try count(aZeroPointIndex, "a_zero_point", m, "row of A"),
            bZeroPointCount: try count(bZeroPointIndex, "b_zero_point", n, "column of B"),
            bScaleCount: try count(bScaleIndex, "b_scale", n, "column of B"))
    }
}
