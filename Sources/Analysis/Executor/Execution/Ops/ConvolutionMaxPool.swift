import Kernels

/// A Conv (with its fused ReLU, no residual) and the MaxPool that is the only reader of its output,
/// run as one step (`conv2dMaxPool`): each image's convolution is pooled while it is in cache, so
/// the unpooled tensor never goes to memory (the sample CNN's stem writes 25.7 MB at batch 256
/// that only the pool reads).
///
/// Made by the executor at compile time (`CompiledGraph.fuseConvMaxPool`), never by the graph
/// simplifier: the graph keeps both nodes, so layer indices, activation fake-quant insertion and
/// reverse mode (which compiles with every value retained and therefore never fuses) see the
/// model as exported. Its output is the MaxPool's; inputs are the Conv's.
struct ConvMaxPoolOperator: Operator {
    let conv: ConvOperator
    let pool: Pool2DShape
    let outputTypes: [ValueType]

    var workspaceCount: Int { conv2dMaxPoolWorkspaceCount(conv.shape, threads: conv.threads) }

    func invalidateCaches() { conv.invalidateCaches() }

    func forward(_ io: OperatorIO) {
        conv2dMaxPool(conv.shape, pool: pool, input: io.input(0),
                      packedWeights: conv.packCache.map { $0.packed(for: io.input(1), shape: conv.shape) },
                      weight: io.input(1), bias: io.optionalInput(2), output: io.output(0), relu: conv.relu,
                      workspace: io.workspace, threads: io.threads)
    }

    /// The fused step for `conv` followed by `pool`, or nil when they do not fit one: a 2-D conv
    /// without a residual input and a 2-D max pool over exactly its output.
    static func fusing(_ conv: ConvOperator, convInputs: Int, _ pool: PoolOperator) -> ConvMaxPoolOperator? {
        guard pool.isMax, convInputs <= 3, conv.outputTypes.count == 1, conv.outputTypes[0].rank == 4 else { return nil }
        let s = conv.shape, p = pool.shape
        guard p.batch == s.batch, p.channels == s.outChannels, p.inHeight == s.outHeight, p.inWidth == s.outWidth
        else { return nil }
        return ConvMaxPoolOperator(conv: conv, pool: p, outputTypes: pool.outputTypes)
    }
}
