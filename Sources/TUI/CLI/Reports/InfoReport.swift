import Analysis
import Executor

/// `qscope info`: a model's inputs, outputs, op counts and quantizable layers.
struct InfoReport: CommandReport {
    var model: String
    var opset: Int
    var inputs: [Tensor]
    var outputs: [Tensor]
    /// Op types of the file with their counts, most frequent first (ties by name).
    var ops: [OpCount]
    /// Nodes the executor runs (after constant folding).
    var executedNodes: Int
    var layers: [Layer]
    /// Parameters of the quantizable layers.
    var parameters: Int
    /// Multiply-accumulates per sample of all quantizable layers (text only; nil: unknown).
    var macsPerSample: Int?

    struct Tensor: Encodable {
        var name: String
        var type: String
        var shape: String
    }

    struct OpCount {
        var op: String
        var count: Int
    }

    struct Layer: Encodable {
        var name: String
        var op: String
        var weightShape: [Int]
        var parameters: Int
        /// Multiply-accumulates per sample (nil: the input's sample shape is not fully declared).
        var macsPerSample: Int?
        /// How the file stores the weight when it ships quantized (nil: float).
        var stored: Stored? = nil

        private enum CodingKeys: String, CodingKey {
            case name, op, weightShape = "weight_shape", parameters, macsPerSample = "macs_per_sample", stored
        }
    }

    /// A layer's stored quantization (`StoredQuantization`).
    struct Stored: Encodable {
        /// Code type: int8, uint8...
        var type: String
        /// The plan spec that keeps it (`stored:int8`).
        var spec: String
        /// Weight axis of per-channel scales; nil for per-tensor.
        var axis: Int?
        var scales: [Float]
        var zeroPoints: [Int]
        /// "DequantizeLinear" (QDQ) or the quantized op's type.
        var storedBy: String

        init(_ stored: StoredQuantization) {
            type = "\(stored.type)"
            spec = QuantizerSpec.stored(stored).description
            axis = stored.axis
            scales = stored.scales
            zeroPoints = stored.zeroPoints
            storedBy = stored.storedBy
        }

        private enum CodingKeys: String, CodingKey {
            case type, spec, axis, scales, zeroPoints = "zero_points", storedBy = "stored_by"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(type, forKey: .type)
            try container.encode(spec, forKey: .spec)
            try container.encode(axis, forKey: .axis)  // null: per tensor
            try container.encode(scales, forKey: .scales)
            try container.encode(zeroPoints, forKey: .zeroPoints)
            try container.encode(storedBy, forKey: .storedBy)
        }
    }

    private enum CodingKeys: String, CodingKey {
        case model, opset, inputs, outputs, ops, executedNodes = "executed_nodes", layers, parameters
    }

    /// `ops` as an object from op type to count.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(opset, forKey: .opset)
        try container.encode(inputs, forKey: .inputs)
        try container.encode(outputs, forKey: .outputs)
        try container.encode(Dictionary(uniqueKeysWithValues: ops.map { ($0.op, $0.count) }), forKey: .ops)
        try container.encode(executedNodes, forKey: .executedNodes)
        try container.encode(layers, forKey: .layers)
        try container.encode(parameters, forKey: .parameters)
    }

    var lines: [String] {
        var lines = ["model   \(model)  (opset \(opset), \(executedNodes) nodes after folding)"]
        lines += inputs.map { "input   \($0.name)  \($0.type) \($0.shape)" }
        lines += outputs.map { "output  \($0.name)  \($0.type) \($0.shape)" }
        lines.append("ops     " + ops.map { "\($0.op) \($0.count)" }.joined(separator: ", "))
        lines.append("")
        // An already-quantized model gets a column saying how each weight is stored.
        let anyStored = layers.contains { $0.stored != nil }
        var table = ReportTable(headers: ["layer", "op", "weight shape", "params", "MACs/sample"] + (anyStored ? ["stored as"] : []),
                                alignRight: [3, 4])
        for layer in layers {
            let stored = layer.stored.map { "\($0.type) " + ($0.axis == nil ? "per tensor" : "per channel") } ?? "float"
            table.append([layer.name, layer.op, "\(layer.weightShape)", "\(layer.parameters)", layer.macsPerSample.map(String.init) ?? "?"]
                         + (anyStored ? [stored] : []))
        }
        table.append(["total", "", "", "\(parameters)", macsPerSample.map(String.init) ?? "?"] + (anyStored ? [""] : []))
        lines.append("quantizable layers (\(layers.count))")
        return lines + table.render()
    }
}
