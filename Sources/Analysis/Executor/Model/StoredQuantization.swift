/// How a model file stores a layer's weight when it ships already quantized: integer codes with
/// scales and zero points, the weight's real value being `(code − zero_point)·scale`.
///
/// Two forms are recognised (`StoredQuantization.recognize`):
/// - QDQ: the layer's weight is `DequantizeLinear` of a constant integer initializer with constant
///   scale and zero point (ONNX Runtime's `QuantFormat.QDQ`, the zoo's `-qdq` models). The constant
///   DequantizeLinear is folded like any constant node, so the layer sees the float weight.
/// - QOperator and dynamic quantization: the layer is a QLinearConv, QLinearMatMul, ConvInteger or
///   MatMulInteger with constant integer weight codes. `Model` replaces the codes by their
///   dequantized float values (the ops accept either form, see `QuantizedWeightForm`), so that the
///   layer has a float weight a plan can requantize like any other. ConvInteger and MatMulInteger
///   carry no weight scale (the exporter applies it with a later Mul); their float weight is the
///   centred codes `w − w_zp`, scale 1.
///
/// Either way the layer's weight as qscope sees it equals the stored weight exactly, so the FP32
/// reference of such a model is the model as stored, as ONNX Runtime computes it.
public struct StoredQuantization: Sendable, Equatable {
    /// The codes' ONNX type (int8, uint8, int4, uint4, int16, uint16).
    public var type: DataType
    /// The weight axis the scales run along; nil for one scale for the whole tensor.
    public var axis: Int?
    /// One scale per slice along `axis` (one for per-tensor).
    public var scales: [Float]
    /// One zero point per scale (all 0 for a symmetric grid).
    public var zeroPoints: [Int]
    /// The op the weight was stored for: "DequantizeLinear" (QDQ) or the quantized op's type.
    public var storedBy: String

    /// Code width in bits.
    public var bits: Int {
        switch type {
        case .int4, .uint4: return 4
        case .int16, .uint16: return 16
        default: return 8
        }
    }

    public var isSigned: Bool { type == .int8 || type == .int4 || type == .int16 }
    /// One scale per output channel (else per tensor).
    public var isPerChannel: Bool { axis != nil }
    /// Every zero point 0.
    public var isSymmetric: Bool { zeroPoints.allSatisfy { $0 == 0 } }

    /// "int8 (stored)", "uint8 (stored)": how tables name the stored format.
    public var label: String { "\(type) (stored)" }

    /// One line: "int8 per channel (axis 0, 16 scales), symmetric, by QLinearConv".
    public var summary: String {
        let grain = axis.map { "per channel (axis \($0), \(scales.count) scales)" } ?? "per tensor"
        return "\(type) \(grain), \(isSymmetric ? "symmetric" : "asymmetric"), by \(storedBy)"
    }

    /// The real values of `codes` laid out as `shape` (float32 `(q − z)·s`, as DequantizeLinear).
    func dequantize(_ codes: [Float], shape: [Int]) -> [Float] {
        let inner = axis.map { shape[($0 + 1)...].reduce(1, *) } ?? codes.count
        let channels = axis.map { shape[$0] } ?? 1
        return codes.indices.map { i in
            let c = (i / max(inner, 1)) % max(channels, 1)
            return (codes[i] - Float(zeroPoints[c])) * scales[c]
        }
    }

    static let codeTypes: Set<DataType> = [.int8, .uint8, .int4, .uint4, .int16, .uint16]

    /// The QDQ weights of a raw graph (before simplification): the output of every DequantizeLinear of
    /// a constant integer tensor with constant scale and zero point, with how it is stored. int32
    /// codes (biases) are not weights and are left out.
    static func recognizeDequantized(in graph: Graph) -> [ValueID: StoredQuantization] {
        var found: [ValueID: StoredQuantization] = [:]
        for node in graph.nodes where node.opType == "DequantizeLinear" && (node.domain.isEmpty || node.domain == "ai.onnx") {
            guard node.inputs.count >= 2, let codesID = node.inputs[0], let codes = graph.constants[codesID],
                  codeTypes.contains(codes.dataType), let scales = node.inputs[1].flatMap({ graph.constants[$0] }),
                  let output = node.outputs.first else { continue }
            var zeros: Tensor?
            if node.inputs.count > 2, let id = node.inputs[2] {
                guard let z = graph.constants[id] else { continue }
                zeros = z
            }
            var axis: Int?
            if scales.count > 1 {
                var raw = 1
                if case .int(let a)? = node.attributes["axis"] { raw = a }
                let normalized = raw < 0 ? raw + codes.shape.count : raw
                guard normalized >= 0, normalized < codes.shape.count, codes.shape[normalized] == scales.count else { continue }
                axis = normalized
            }
            if case .int(let block)? = node.attributes["block_size"], block != 0 { continue }
            found[output] = StoredQuantization(type: codes.dataType, axis: axis, scales: scales.values.array,
                                               zeroPoints: zeros?.ints ?? Array(repeating: 0, count: scales.count),
                                               storedBy: "DequantizeLinear")
        }
        return found
    }

    /// Where a quantized op keeps its weight: the input indices of the codes, their scale (nil: none)
    /// and zero point, and whether output channels are the weight's last axis (MatMul) or its first (Conv).
    static func weightInputs(of node: Node) -> (codes: Int, scale: Int?, zeroPoint: Int, channelsLast: Bool)? {
        guard node.domain.isEmpty || node.domain == "ai.onnx" else { return nil }
        switch node.opType {
        case "QLinearConv": return (3, 4, 5, false)
        case "QLinearMatMul": return (3, 4, 5, true)
        case "ConvInteger": return (1, nil, 3, false)
        case "MatMulInteger": return (1, nil, 3, true)
        default: return nil
        }
    }

    /// Replaces the constant integer weights of QLinearConv, QLinearMatMul, ConvInteger and
    /// MatMulInteger nodes by new float constants holding their dequantized values, and returns how
    /// each new constant was stored. Weights computed at run time, or whose scale or zero point is,
    /// stay as they are.
    static func dequantizeOperatorWeights(_ graph: inout Graph) -> [ValueID: StoredQuantization] {
        var found: [ValueID: StoredQuantization] = [:]
        for index in graph.nodes.indices {
            let node = graph.nodes[index]
            guard let inputs = weightInputs(of: node), node.inputs.count > inputs.codes,
                  let weightID = node.inputs[inputs.codes], let codes = graph.constants[weightID],
                  codeTypes.contains(codes.dataType), codes.shape.count >= 1 else { continue }
            var scales = Tensor(shape: [], values: [1])
            if let s = inputs.scale {
                guard node.inputs.count > s, let id = node.inputs[s], let tensor = graph.constants[id] else { continue }
                scales = tensor
            }
            var zeros: [Int] = [0]
            if node.inputs.count > inputs.zeroPoint, let id = node.inputs[inputs.zeroPoint] {
                guard let tensor = graph.constants[id] else { continue }
                zeros = tensor.ints
            }
            let outputAxis = inputs.channelsLast ? codes.shape.count - 1 : 0
            let channels = codes.shape[outputAxis]
            guard [1, channels].contains(scales.count), [1, channels].contains(zeros.count) else { continue }
            let count = scales.count > 1 || zeros.count > 1 ? channels : 1
            let stored = StoredQuantization(
                type: codes.dataType, axis: count > 1 ? outputAxis : nil,
                scales: scales.count == count ? scales.values.array : Array(repeating: scales.values[0], count: count),
                zeroPoints: zeros.count == count ? zeros : Array(repeating: zeros[0], count: count), storedBy: node.opType)
            let dequantized = graph.addValue(named: graph.valueNames[weightID] + ".dequantized")
            graph.constants[dequantized] = Tensor(shape: codes.shape, values: stored.dequantize(codes.values.array, shape: codes.shape))
            graph.nodes[index].inputs[inputs.codes] = dequantized
            found[dequantized] = stored
        }
        return found
    }
}
