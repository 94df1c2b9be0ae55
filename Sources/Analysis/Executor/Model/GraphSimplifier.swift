/// Batch-independent rewrites applied once after loading.
///
/// 1. Identity and inference-mode Dropout are removed (their readers read the input instead).
/// 2. Nodes whose inputs are all constant are folded (e.g. a Transpose of a weight, Constant chains).
/// 3. BatchNormalization is folded into the preceding Conv when that Conv's output feeds only the BN:
///    `W' = W·γ/√(σ²+ε)` per output channel, `b' = (b − μ)·γ/√(σ²+ε) + β`.
/// 4. A Relu that is the only reader of a Conv's, Gemm's or MatMul-with-constant-weight's output is
///    fused into it (applied in the GEMM epilogue).
/// 5. An Add of a constant vector [N] to the output of a MatMul with a constant [K, N] weight becomes
///    the MatMul's bias (third input, added in the GEMM's epilogue), as Gemm has it.
/// 6. The exact-GELU subgraph exporters write, `0.5 · x · (1 + erf(x / √2))`, becomes one Gelu node.
/// 7. A residual `Add(Conv(...), r)` (optionally followed by a Relu that is the Add's only reader)
///    becomes one Conv with `r` as a fourth input, added (then rectified) as each output tile is
///    written: a ResNet block's sum costs no extra pass over memory. The Conv moves to the Add's
///    place in the node order, where `r` is available.
/// Shape sub-graphs that depend on the batch size are folded later, at compile time.
public enum GraphSimplifier {
    public static func simplify(_ input: Graph) throws -> Graph {
        var graph = input
        removePassThroughs(&graph)
        try foldConstants(&graph)
        foldBatchNorms(&graph)
        fuseMatMulBias(&graph)
        fuseRelu(&graph)
        fuseResidual(&graph)
        fuseGelu(&graph)
        removeDeadNodes(&graph)
        return graph
    }

    /// Redirects readers of Identity / Dropout outputs to their inputs.
    static func removePassThroughs(_ graph: inout Graph) {
        var replacement: [ValueID: ValueID] = [:]
        var kept: [Node] = []
        let outputs = Set(graph.outputIDs)
        let consumers = graph.consumers()
        for var node in graph.nodes {
            node.inputs = node.inputs.map { $0.map { replacement[$0] ?? $0 } }
            var training = node.inputs.count > 2 ? node.inputs[2].flatMap { graph.constants[$0]?.scalar } : 0
            // Before opset 7 Dropout trains unless `is_test` is set (its builder then refuses it).
            if graph.opset < 7, node.attributes["is_test"] != .int(1) { training = 1 }
            let isInferenceDropout = node.opType == "Dropout" && training == 0
                && (node.outputs.count < 2 || consumers[node.outputs[1]].isEmpty)
            let isPassThrough = node.opType == "Identity" || isInferenceDropout
            if isPassThrough, let source = node.inputs.first ?? nil, !outputs.contains(node.outputs[0]) {
                replacement[node.outputs[0]] = source
                continue
            }
            kept.append(node)
        }
        graph.nodes = kept
    }

    /// Folds every node whose inputs are all constant.
    static func foldConstants(_ graph: inout Graph) throws {
        var kept: [Node] = []
        for node in graph.nodes {
            let inputs = node.inputs.map { $0.flatMap { graph.constants[$0] } }
            let foldable = !node.inputs.isEmpty && zip(node.inputs, inputs).allSatisfy { $0.0 == nil || $0.1 != nil }
            guard foldable, let builder = OperatorRegistry.builder(for: node) else {
                kept.append(node)
                continue
            }
            let context = OperatorContext(node: node, inputTypes: inputs.map { $0.map { ValueType($0.dataType, $0.shape) } },
                                          constants: inputs, opset: graph.opset)
            let op = try builder(context)
            let values = try ConstantFolder.evaluate(op, inputs: inputs, outputCount: node.outputs.count)
            for (id, value) in zip(node.outputs, values) { graph.constants[id] = value }
        }
        graph.nodes = kept
    }

    static func foldBatchNorms(_ graph: inout Graph) {
        let consumers = graph.consumers()
        let producers = graph.producers()
        var removed = Set<Int>()
        for (index, bn) in graph.nodes.enumerated() where bn.opType == "BatchNormalization" && bn.inputs.count == 5 {
            guard let x = bn.inputs[0], let convIndex = producers[x], !graph.outputIDs.contains(x),
                  consumers[x].count == 1, graph.nodes[convIndex].opType == "Conv",
                  bn.outputs.count == 1 || bn.outputs.dropFirst().allSatisfy({ consumers[$0].isEmpty }) else { continue }
            var conv = graph.nodes[convIndex]
            guard let weightID = conv.inputs[1], let weight = graph.constants[weightID],
                  let gamma = bn.inputs[1].flatMap({ graph.constants[$0] }), let beta = bn.inputs[2].flatMap({ graph.constants[$0] }),
                  let mean = bn.inputs[3].flatMap({ graph.constants[$0] }), let variance = bn.inputs[4].flatMap({ graph.constants[$0] })
            else { continue }
            let channels = weight.shape[0]
            guard [gamma, beta, mean, variance].allSatisfy({ $0.count == channels }) else { continue }
            let bias = conv.inputs.count > 2 ? conv.inputs[2].flatMap { graph.constants[$0] } : nil
            if conv.inputs.count > 2, conv.inputs[2] != nil, bias == nil { continue }
            var epsilon: Float = 1e-5
            if case .float(let e)? = bn.attributes["epsilon"] { epsilon = e }
            let perChannel = weight.count / max(channels, 1)
            var newWeight = weight.values
            var newBias = [Float](repeating: 0, count: channels)
            for ch in 0..<channels {
                let s = gamma.values[ch] / (variance.values[ch] + epsilon).squareRoot()
                for i in 0..<perChannel { newWeight[ch * perChannel + i] *= s }
                newBias[ch] = ((bias?.values[ch] ?? 0) - mean.values[ch]) * s + beta.values[ch]
            }
            // Fresh value ids: the originals may be shared with other nodes.
            let w = graph.addValue(named: graph.valueNames[weightID])
            graph.constants[w] = Tensor(shape: weight.shape, values: newWeight)
            let b = graph.addValue(named: conv.name + ".bias_folded")
            graph.constants[b] = Tensor(shape: [channels], values: newBias)
            conv.inputs = [conv.inputs[0], w, b]
            conv.outputs = [bn.outputs[0]]
            graph.nodes[convIndex] = conv
            removed.insert(index)
        }
        graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    static func fuseRelu(_ graph: inout Graph) {
        let consumers = graph.consumers()
        let producers = graph.producers()
        var removed = Set<Int>()
        for (index, relu) in graph.nodes.enumerated() where relu.opType == "Relu" {
            guard let x = relu.inputs.first ?? nil, let convIndex = producers[x], consumers[x].count == 1,
                  !graph.outputIDs.contains(x) else { continue }
            let producer = graph.nodes[convIndex]
            let constantWeight = producer.inputs.count > 1 && producer.inputs[1].map { graph.constants[$0] != nil } == true
            guard producer.opType == "Conv" || producer.opType == "Gemm"
                    || (producer.opType == "MatMul" && constantWeight && graph.constants[producer.inputs[1]!]!.shape.count == 2)
            else { continue }
            graph.nodes[convIndex].outputs = relu.outputs
            graph.nodes[convIndex].attributes["qscope.fused_relu"] = .int(1)
            removed.insert(index)
        }
        graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    static func fuseResidual(_ graph: inout Graph) {
        var removed = Set<Int>()
        var consumers = graph.consumers()
        var producers = graph.producers()
        for addIndex in graph.nodes.indices where graph.nodes[addIndex].opType == "Add" && graph.nodes[addIndex].inputs.count == 2 {
            let add = graph.nodes[addIndex]
            for (convSlot, residualSlot) in [(0, 1), (1, 0)] {
                guard let y = add.inputs[convSlot], let residual = add.inputs[residualSlot], y != residual,
                      graph.constants[residual] == nil, let convIndex = producers[y],
                      graph.nodes[convIndex].opType == "Conv", graph.nodes[convIndex].inputs.count <= 3,
                      graph.nodes[convIndex].attributes["qscope.fused_relu"] == nil,
                      consumers[y].count == 1, !graph.outputIDs.contains(y)
                else { continue }
                var conv = graph.nodes[convIndex]
                while conv.inputs.count < 3 { conv.inputs.append(nil) }
                conv.inputs.append(residual)
                conv.outputs = add.outputs
                if let sum = add.outputs.first, consumers[sum].count == 1, !graph.outputIDs.contains(sum),
                   graph.nodes[consumers[sum][0]].opType == "Relu" {
                    let reluIndex = consumers[sum][0]
                    conv.outputs = graph.nodes[reluIndex].outputs
                    conv.attributes["qscope.fused_relu"] = .int(1)
                    removed.insert(reluIndex)
                    graph.nodes[reluIndex] = Node(name: "", opType: "", inputs: [], outputs: [])
                }
                // The Add's slot comes after both operands' producers in topological order. Fused
                // nodes become empty placeholders (dropped at the end) so that the indices stay valid.
                graph.nodes[addIndex] = conv
                removed.insert(convIndex)
                graph.nodes[convIndex] = Node(name: "", opType: "", inputs: [], outputs: [])
                consumers = graph.consumers()
                producers = graph.producers()
                break
            }
        }
        graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    static func fuseMatMulBias(_ graph: inout Graph) {
        let consumers = graph.consumers()
        let producers = graph.producers()
        var removed = Set<Int>()
        for (index, add) in graph.nodes.enumerated() where add.opType == "Add" && add.inputs.count == 2 {
            for (dataSlot, biasSlot) in [(0, 1), (1, 0)] {
                guard let y = add.inputs[dataSlot], let biasID = add.inputs[biasSlot], let bias = graph.constants[biasID],
                      let matmulIndex = producers[y], graph.nodes[matmulIndex].opType == "MatMul",
                      graph.nodes[matmulIndex].inputs.count == 2, consumers[y].count == 1, !graph.outputIDs.contains(y),
                      let weightID = graph.nodes[matmulIndex].inputs[1], let weight = graph.constants[weightID],
                      weight.shape.count == 2, bias.count == weight.shape[1], bias.shape.dropLast().allSatisfy({ $0 == 1 })
                else { continue }
                let flat = graph.addValue(named: graph.valueNames[biasID])
                graph.constants[flat] = Tensor(shape: [bias.count], values: bias.values)
                graph.nodes[matmulIndex].inputs.append(flat)
                graph.nodes[matmulIndex].outputs = add.outputs
                removed.insert(index)
                break
            }
        }
        graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    static func fuseGelu(_ graph: inout Graph) {
        let consumers = graph.consumers()
        func only(_ id: ValueID) -> Int? {
            consumers[id].count == 1 && !graph.outputIDs.contains(id) ? consumers[id][0] : nil
        }
        func constant(_ node: Node, other id: ValueID) -> Float? {
            guard node.inputs.count == 2 else { return nil }
            let otherID = node.inputs[0] == id ? node.inputs[1] : node.inputs[0]
            return otherID.flatMap { graph.constants[$0]?.scalar }
        }
        func close(_ a: Float?, _ b: Float) -> Bool { a.map { abs($0 - b) <= 1e-4 * abs(b) } ?? false }
        var removed = Set<Int>()
        for (index, scale) in graph.nodes.enumerated() where ["Div", "Mul"].contains(scale.opType) && scale.inputs.count == 2 {
            guard let x = scale.inputs[0], let scaled = scale.outputs.first, graph.constants[x] == nil else { continue }
            let factor = constant(scale, other: x)
            guard scale.inputs[0] == x,
                  (scale.opType == "Div" && close(factor, Float(2).squareRoot())) || (scale.opType == "Mul" && close(factor, Float(0.5).squareRoot())),
                  let erfIndex = only(scaled), graph.nodes[erfIndex].opType == "Erf",
                  let erfOut = graph.nodes[erfIndex].outputs.first, let addIndex = only(erfOut),
                  graph.nodes[addIndex].opType == "Add", close(constant(graph.nodes[addIndex], other: erfOut), 1),
                  let addOut = graph.nodes[addIndex].outputs.first, let mulIndex = only(addOut),
                  graph.nodes[mulIndex].opType == "Mul", graph.nodes[mulIndex].inputs.contains(x),
                  let mulOut = graph.nodes[mulIndex].outputs.first, let halfIndex = only(mulOut),
                  graph.nodes[halfIndex].opType == "Mul", close(constant(graph.nodes[halfIndex], other: mulOut), 0.5)
            else { continue }
            let gelu = Node(name: graph.nodes[halfIndex].name + ".gelu", opType: "Gelu", inputs: [x],
                            outputs: graph.nodes[halfIndex].outputs)
            graph.nodes[halfIndex] = gelu
            removed.formUnion([index, erfIndex, addIndex, mulIndex])
        }
        graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    /// Drops nodes none of whose outputs are read, and constants nothing reads.
    static func removeDeadNodes(_ graph: inout Graph) {
        var needed = Set(graph.outputIDs)
        var kept: [Node] = []
        for node in graph.nodes.reversed() where node.outputs.contains(where: { needed.contains($0) }) {
            kept.append(node)
            for case let input? in node.inputs { needed.insert(input) }
        }
        graph.nodes = kept.reversed()
        graph.constants = graph.constants.filter { needed.contains($0.key) }
    }
}
