import Executor
/// Static activation quantization as a plan asks for it: each layer's `LayerChoice.activations`
/// (an `intB[:asym][:clip=…]` spec, per tensor) at that layer's input, calibrated exactly as
/// `qscope eval --activations` calibrates (`ActivationQuantization.prepare`, min/max over the
/// calibration samples, or the spec's clipping rule on a subsample).
///
/// Layers that read the same tensor (q/k/v) share one quantizer, so their plan entries must agree;
/// a plan that gives them different specs is rejected naming both layers. `eval --plan` evaluates
/// `model` (fake-quant nodes inserted) with the plan's weights; `export` writes the same scales and
/// zero points as QuantizeLinear/DequantizeLinear pairs.
public struct PlanActivations: Sendable {
    /// One quantized tensor: the layer input it quantizes, its spec, the layers reading it and its
    /// calibrated parameters.
    public struct Entry: Sendable {
        public var input: ValueID
        public var spec: ActivationSpec
        /// Indices into `Model.layers`, ascending.
        public var layers: [Int]
        public var calibrated: ActivationQuantization.Calibrated

        /// The integer code range of the spec: symmetric ±(2^(B−1) − 1), affine 0…2^B − 1.
        public var codeRange: ClosedRange<Int32> { spec.quantizer.codeRange }
    }

    /// The model with a `QScopeFakeQuant` node before every quantized layer input.
    public var model: Model
    /// In the model's layer order (by first reader).
    public var entries: [Entry]

    /// The activation spec of a plan entry: the weight grammar's `intB` with `asym` and `clip`
    /// options, per tensor (the `tensor` option may be written or not).
    public static func spec(_ spec: QuantizerSpec, layer: String) throws -> ActivationSpec {
        guard case .integer(let bits, let mapping, let granularity, let clipping) = spec.family, mapping != .hawq,
              granularity == .channel || granularity == .tensor else {
            throw QScopeError("layer '\(layer)': activations '\(spec)' cannot be applied; activations are quantized per tensor with intB[:asym][:clip=mse|clip=pNN.N]")
        }
        return ActivationSpec(bits: bits, asymmetric: mapping == .affine, clipping: clipping)
    }

    /// Calibrates the activation specs of `plan` on `calibration` (already fitted to the model input).
    /// A plan without activation specs gives the model unchanged and no entries.
    public static func calibrate(plan: Plan, model: Model, calibration: Dataset, batch: Int = 256) throws -> PlanActivations {
        guard plan.layerNames == model.layers.map(\.name) else {
            throw QScopeError(file: model.path, "the plan is for another model")
        }
        // Group the layers by input tensor and check that readers of one tensor agree.
        var order: [ValueID] = []
        var specs: [ValueID: (ActivationSpec, [Int])] = [:]
        for (index, choice) in plan.choices.enumerated() {
            guard let activations = choice.activations else { continue }
            let layer = model.layers[index]
            let spec = try Self.spec(activations, layer: layer.name)
            guard let input = model.graph.nodes[layer.nodeIndex].inputs[0] else { continue }
            if let found = specs[input] {
                let (existing, readers) = found
                guard existing == spec else {
                    throw QScopeError("layers '\(model.layers[readers[0]].name)' and '\(layer.name)' read the same tensor '\(model.graph.valueNames[input])' but their plan entries quantize it differently (\(existing) vs \(spec))")
                }
                specs[input] = (existing, readers + [index])
            } else {
                order.append(input)
                specs[input] = (spec, [index])
            }
        }
        guard !order.isEmpty else { return PlanActivations(model: model, entries: []) }
        // One calibration per distinct spec: `prepare` calibrates every layer input with that spec;
        // keep the tensors the plan gives it.
        var calibrated: [ValueID: ActivationQuantization.Calibrated] = [:]
        for spec in Set(order.map { specs[$0]!.0 }) {
            let prepared = try ActivationQuantization.prepare(spec, to: model, calibration: calibration, batch: batch)
            for c in prepared.calibrated where specs[c.input]?.0 == spec { calibrated[c.input] = c }
        }
        let entries = try order.map { input -> Entry in
            guard let c = calibrated[input] else {
                throw QScopeError("layer input '\(model.graph.valueNames[input])' was not calibrated")
            }
            return Entry(input: input, spec: specs[input]!.0, layers: specs[input]!.1, calibrated: c)
        }
        return PlanActivations(model: insert(entries, into: model), entries: entries)
    }

    /// The graph with a `QScopeFakeQuant` node before the first reader of each entry's tensor, and
    /// the entry's layers reading the fake-quantized value (other readers keep the float value).
    static func insert(_ entries: [Entry], into model: Model) -> Model {
        var graph = model.graph
        var byLayerNode: [Int: Entry] = [:]
        for entry in entries {
            for layer in entry.layers { byLayerNode[model.layers[layer].nodeIndex] = entry }
        }
        var replacement: [ValueID: ValueID] = [:]
        var nodes: [Node] = []
        for (index, node) in model.graph.nodes.enumerated() {
            var node = node
            if let entry = byLayerNode[index] {
                if replacement[entry.input] == nil {
                    let name = model.graph.valueNames[entry.input] + "_fakequant"
                    let output = graph.addValue(named: name)
                    nodes.append(Node(name: name, opType: "QScopeFakeQuant", inputs: [entry.input], outputs: [output],
                                      attributes: ["bits": .int(entry.spec.bits), "affine": .int(entry.spec.asymmetric ? 1 : 0),
                                                   "scale": .float(entry.calibrated.scale),
                                                   "zero_point": .int(Int(entry.calibrated.zeroPoint))]))
                    replacement[entry.input] = output
                }
                node.inputs[0] = replacement[entry.input]
            }
            nodes.append(node)
        }
        graph.nodes = nodes
        var quantized = model
        quantized.graph = graph
        quantized.layers = Model.findLayers(graph, stored: model.storedWeights)
        return quantized
    }
}
