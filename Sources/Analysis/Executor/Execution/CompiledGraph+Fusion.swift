/// An operator built for one graph node (or, after fusion, for several), with the values it reads
/// and writes. Before fusion `inputs` / `outputs` are the node's.
struct BuiltStep {
    let nodeIndex: Int
    let op: Operator
    let inputs: [ValueID?]
    let outputs: [ValueID]
}

extension CompiledGraph {
    /// Replaces each Conv step whose output only a MaxPool step reads by one `ConvMaxPoolOperator`
    /// step (the Conv's node index and inputs, the MaxPool's outputs) at the Conv's place.
    ///
    /// Applied only when intermediate values are not retained (`retainAll == false`): the fused
    /// Conv's output is then never computed. It must not be needed by anyone: it is not a graph
    /// output, and no other node reads it, so in particular it is not the input of a quantizable
    /// layer (whose readers include that layer) and no activation fake-quant node sits between the
    /// two (the MaxPool would then read the fake-quant node's output, not the Conv's). The prefix
    /// cache resumes at quantizable layers' steps, which keep their node indices; the MaxPool node
    /// has no step of its own (`stepIndex(ofNode:)` is nil, as for a folded node).
    func fuseConvMaxPool(_ built: [BuiltStep]) -> [BuiltStep] {
        var readers: [ValueID: Int] = [:]
        for node in graph.nodes {
            for case let id? in Set(node.inputs) { readers[id, default: 0] += 1 }
        }
        let outputs = Set(graph.outputIDs)
        var stepOfReader: [ValueID: Int] = [:]
        for (index, step) in built.enumerated() {
            if step.op is PoolOperator, let x = step.inputs.first ?? nil { stepOfReader[x] = index }
        }
        var fused: [Int: BuiltStep] = [:]
        var removed = Set<Int>()
        for (index, step) in built.enumerated() {
            guard let conv = step.op as? ConvOperator, step.outputs.count == 1 else { continue }
            let y = step.outputs[0]
            guard !outputs.contains(y), readers[y] == 1, let poolIndex = stepOfReader[y], poolIndex > index,
                  let pool = built[poolIndex].op as? PoolOperator,
                  let op = ConvMaxPoolOperator.fusing(conv, convInputs: step.inputs.count, pool)
            else { continue }
            fused[index] = BuiltStep(nodeIndex: step.nodeIndex, op: op, inputs: step.inputs, outputs: built[poolIndex].outputs)
            removed.insert(poolIndex)
        }
        return built.enumerated().compactMap { index, step in
            removed.contains(index) ? nil : fused[index] ?? step
        }
    }
}
