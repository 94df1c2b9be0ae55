extension Model {
    /// The model reverse mode differentiates: for an already-quantized model, its float twin.
    ///
    /// Rounding has derivative 0 almost everywhere, so differentiated as stored, a quantized model
    /// passes no adjoint back through any activation quantization and every weight before the
    /// last one would read as insensitive. Sensitivity of stored layers is therefore measured with
    /// the straight-through estimator, the usual treatment of quantization in training: rounding's
    /// derivative is taken as 1, i.e. the activations are differentiated as if unquantized, at the
    /// stored (dequantized) weights. Concretely:
    /// - a QLinearConv or QLinearMatMul whose weight is a dequantized constant becomes
    ///   DequantizeLinear → Conv/MatMul (float weight; bias `B·x_scale·w_scale`) → QuantizeLinear;
    /// - a ConvInteger or MatMulInteger reading a DynamicQuantizeLinear's codes becomes the float
    ///   Conv/MatMul of the DynamicQuantizeLinear's input divided by its scale (the int32 sum's units,
    ///   which the exporter's following Cast and Mul expect); the scale itself is treated as constant;
    /// - every DequantizeLinear of a QuantizeLinear of a run-time value is bypassed: its readers
    ///   (and graph outputs) read the QuantizeLinear's input; ops that only move codes between the two
    ///   (`codeMovingOps`: MaxPool, Reshape...) get a float copy on the way.
    /// Layers keep their order, names and weight ids. A float model is returned unchanged.
    public func straightThroughTwin() -> Model {
        let quantizedOps: Set<String> = ["QuantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"]
        guard graph.nodes.contains(where: { quantizedOps.contains($0.opType) }) else { return self }
        var graph = self.graph
        let producers = graph.producers()
        var nodes: [Node] = []
        func constant(_ id: ValueID?) -> Tensor? { id.flatMap { graph.constants[$0] } }
        for node in graph.nodes {
            switch node.opType {
            case "QLinearConv", "QLinearMatMul":
                guard node.inputs.count >= 8, let x = node.inputs[0], let weight = node.inputs[3],
                      constant(weight)?.dataType.isFloat == true, let output = node.outputs.first else {
                    nodes.append(node)
                    continue
                }
                let floatInput = graph.addValue(named: node.name + ".input_dequantized")
                let floatOutput = graph.addValue(named: node.name + ".output_float")
                nodes.append(Node(name: node.name + ".dequantize_input", opType: "DequantizeLinear",
                                  inputs: [x, node.inputs[1], node.inputs[2]], outputs: [floatInput]))
                var inputs: [ValueID?] = [floatInput, weight]
                if node.opType == "QLinearConv", node.inputs.count > 8, let bias = constant(node.inputs[8]),
                   let inputScale = constant(node.inputs[1])?.scalar, let weightScales = constant(node.inputs[4]) {
                    let id = graph.addValue(named: node.name + ".bias_float")
                    graph.constants[id] = Tensor(shape: bias.shape, values: bias.integerValues.indices.map { c in
                        Float(bias.integerValues[c]) * inputScale * weightScales.values[weightScales.count == 1 ? 0 : c]
                    })
                    inputs.append(id)
                }
                nodes.append(Node(name: node.name, opType: node.opType == "QLinearConv" ? "Conv" : "MatMul", inputs: inputs,
                                  outputs: [floatOutput], attributes: node.attributes))
                nodes.append(Node(name: node.name + ".quantize_output", opType: "QuantizeLinear",
                                  inputs: [floatOutput, node.inputs[6], node.inputs[7]], outputs: [output]))
            case "ConvInteger", "MatMulInteger":
                guard node.inputs.count >= 2, let codes = node.inputs[0], let weight = node.inputs[1],
                      constant(weight)?.dataType.isFloat == true, let source = producers[codes],
                      graph.nodes[source].opType == "DynamicQuantizeLinear", graph.nodes[source].outputs.count == 3,
                      graph.nodes[source].outputs[0] == codes, let x = graph.nodes[source].inputs.first ?? nil else {
                    nodes.append(node)
                    continue
                }
                let product = graph.addValue(named: node.name + ".output_float")
                nodes.append(Node(name: node.name, opType: node.opType == "ConvInteger" ? "Conv" : "MatMul", inputs: [x, weight],
                                  outputs: [product], attributes: node.attributes))
                nodes.append(Node(name: node.name + ".in_input_scale_units", opType: "Div",
                                  inputs: [product, graph.nodes[source].outputs[1]], outputs: node.outputs))
            default:
                nodes.append(node)
            }
        }
        // Straight through every quantize-dequantize pair of a run-time value, also when ops that only
        // move or select codes sit between them (a QOperator model's MaxPool or Reshape on uint8): they
        // commute with a monotone quantization, so each gets a float copy reading the float value.
        var floatOf: [ValueID: ValueID] = [:]
        var replacement: [ValueID: ValueID] = [:]
        var rewritten: [Node] = []
        for node in nodes {
            rewritten.append(node)
            guard let first = node.inputs.first ?? nil, let output = node.outputs.first else { continue }
            switch node.opType {
            case "QuantizeLinear" where graph.constants[first] == nil:
                floatOf[output] = replacement[first] ?? first
            case "DequantizeLinear":
                if let value = floatOf[first] { replacement[output] = value }
            case _ where Self.codeMovingOps.contains(node.opType) && node.outputs.count == 1:
                guard let value = floatOf[first] else { continue }
                var copy = node
                copy.name = node.name + ".float"
                copy.inputs[0] = value
                copy.outputs = [graph.addValue(named: graph.valueNames[output] + ".float")]
                rewritten.append(copy)
                floatOf[output] = copy.outputs[0]
            default:
                break
            }
        }
        graph.nodes = rewritten
        for index in graph.nodes.indices {
            graph.nodes[index].inputs = graph.nodes[index].inputs.map { $0.map { replacement[$0] ?? $0 } }
        }
        graph.outputIDs = graph.outputIDs.map { replacement[$0] ?? $0 }
        GraphSimplifier.removeDeadNodes(&graph)
        var twin = self
        twin.graph = graph
        let layers = Model.findLayers(graph, stored: storedWeights)
        // Same weights in the same order: keep the user-facing names and stored formats.
        guard layers.map(\.weight) == self.layers.map(\.weight) else { return self }
        twin.layers = zip(layers, self.layers).map { twinLayer, original in
            var layer = twinLayer
            layer.name = original.name
            layer.stored = original.stored
            return layer
        }
        return twin
    }

    /// Ops that only move or select elements (no arithmetic on them): between a QuantizeLinear and a
    /// DequantizeLinear they pass codes that stand for the float values they would pass.
    static let codeMovingOps: Set<String> = [
        "MaxPool", "GlobalMaxPool", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Slice", "Expand", "Tile",
    ]
}
