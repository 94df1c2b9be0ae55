extension CompiledGraph {
    /// Multiply-accumulates of one forward pass in the Conv, ConvTranspose, Gemm and MatMul steps (output elements ×
    /// reduction length); elementwise work is not counted. Twice this is the pass's "effective" FLOPs.
    public var multiplyAccumulates: Int {
        var total = 0
        for step in steps {
            let node = graph.nodes[step.nodeIndex]
            guard let out = types[node.outputs[0]]?.count, node.inputs.count >= 2,
                  let a = node.inputs[0].flatMap({ types[$0] }), let b = node.inputs[1].flatMap({ types[$0] }) else { continue }
            switch node.opType {
            case "Conv": total += out * (b.count / max(b.shape[0], 1))
            case "ConvTranspose": total += a.count * (b.count / max(b.shape[0], 1))  // per input element
            case "Gemm":
                var transA = 0
                if case .int(let t)? = node.attributes["transA"] { transA = t }
                total += out * (transA != 0 ? a.shape[0] : a.shape[1])
            case "MatMul": total += out * (a.shape.last ?? 1)
            default: break
            }
        }
        return total
    }
}
