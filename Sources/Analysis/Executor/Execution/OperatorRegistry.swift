/// Builds an operator for a node from its compile-time context.
public typealias OperatorBuilder = @Sendable (OperatorContext) throws -> Operator

/// The op types qscope executes, each with its builder.
///
/// This table is the single list of supported ops: the loader reports anything else before a
/// forward pass runs, and the conformance test derives its list of ONNX node tests from it.
public enum OperatorRegistry {
    public static func builder(for node: Node) -> OperatorBuilder? {
        guard node.domain.isEmpty || node.domain == "ai.onnx" else { return nil }
        return builders[node.opType]
    }

    /// Supported op types, sorted.
    public static var supportedOps: [String] { builders.keys.sorted() }

    /// Ops that are removed or folded before execution and so never reach a builder.
    public static let eliminatedOps: Set<String> = ["Constant"]

    private static let unary: [String: UnaryOperator.Function] = [
        "Relu": .relu, "Sigmoid": .sigmoid, "Tanh": .tanh, "Erf": .erf, "Sqrt": .sqrt, "Exp": .exp, "Log": .log,
        "Neg": .neg, "Abs": .abs, "Reciprocal": .reciprocal, "Floor": .floor, "Ceil": .ceil, "Round": .round,
        "Sign": .sign, "Not": .not, "IsNaN": .isNaN, "Sin": .sin, "Cos": .cos, "Softplus": .softplus,
        "Softsign": .softsign, "HardSwish": .hardSwish, "Mish": .mish,
    ]

    private static let binary: [String: BinaryOperator.Function] = [
        "Add": .arithmetic(.add), "Sub": .arithmetic(.sub), "Mul": .arithmetic(.mul), "Div": .arithmetic(.div),
        "Pow": .arithmetic(.pow), "Equal": .equal, "Less": .less, "LessOrEqual": .lessOrEqual, "Greater": .greater,
        "GreaterOrEqual": .greaterOrEqual, "And": .and, "Or": .or, "Xor": .xor, "Mod": .mod(fmod: false),
        "PRelu": .arithmetic(.mul),
    ]

    private static let builders: [String: OperatorBuilder] = {
        var table: [String: OperatorBuilder] = [:]
        for (name, function) in unary { table[name] = UnaryOperator.builder(function) }
        for (name, function) in binary where name != "PRelu" { table[name] = BinaryOperator.builder(function) }
        for name in ["LeakyRelu", "Elu", "Selu", "HardSigmoid", "Gelu", "Clip", "Cast", "CastLike", "IsInf",
                     "Celu", "Shrink", "ThresholdedRelu"] {
            table[name] = UnaryOperator.withAttributes
        }
        for name in ["Sum", "Mean", "Max", "Min"] { table[name] = VariadicOperator.make }
        table["PRelu"] = PReluOperator.make
        table["Where"] = WhereOperator.make
        table["QScopeFakeQuant"] = FakeQuantOperator.make  // activation fake-quant (Analysis/Quantization)
        table["QuantizeLinear"] = LinearQuantizationOperator.quantizeLinear
        table["DequantizeLinear"] = LinearQuantizationOperator.dequantizeLinear
        table["DynamicQuantizeLinear"] = DynamicQuantizeLinearOperator.make
        table["QLinearConv"] = QuantizedConvOperator.qlinearConv
        table["ConvInteger"] = QuantizedConvOperator.convInteger
        table["QLinearMatMul"] = QuantizedMatMulOperator.qlinearMatMul
        table["MatMulInteger"] = QuantizedMatMulOperator.matMulInteger
        table["Gemm"] = GemmOperator.make
        table["MatMul"] = MatMulOperator.make
        table["Conv"] = ConvOperator.make
        table["BatchNormalization"] = BatchNormOperator.make
        table["MaxPool"] = PoolOperator.make
        table["AveragePool"] = PoolOperator.make
        table["GlobalAveragePool"] = GlobalPoolOperator.make
        table["GlobalMaxPool"] = GlobalPoolOperator.make
        table["Softmax"] = SoftmaxOperator.make
        table["LogSoftmax"] = SoftmaxOperator.make
        table["LayerNormalization"] = LayerNormOperator.make
        table["InstanceNormalization"] = GroupNormOperator.instanceNormalization
        table["GroupNormalization"] = GroupNormOperator.groupNormalization
        table["LpNormalization"] = LpNormOperator.make
        table["TopK"] = TopKOperator.make
        table["NonZero"] = NonZeroOperator.make
        for name in ReduceOperator.kinds.keys { table[name] = ReduceOperator.make }
        table["ArgMax"] = ArgExtremumOperator.make
        table["ArgMin"] = ArgExtremumOperator.make
        table["Reshape"] = CopyOperator.reshape
        table["Flatten"] = CopyOperator.flatten
        table["Squeeze"] = CopyOperator.squeeze
        table["Unsqueeze"] = CopyOperator.unsqueeze
        table["Identity"] = CopyOperator.identity
        table["Dropout"] = DropoutOperator.make
        table["Transpose"] = StridedCopyOperator.transpose
        table["Slice"] = StridedCopyOperator.slice
        table["Expand"] = StridedCopyOperator.expand
        table["Concat"] = ConcatOperator.make
        table["Split"] = SplitOperator.make
        table["Gather"] = GatherOperator.make
        table["GatherElements"] = GatherElementsOperator.make
        table["GatherND"] = GatherNDOperator.make
        table["CumSum"] = CumSumOperator.make
        table["Trilu"] = TriluOperator.make
        table["Einsum"] = EinsumOperator.make
        table["Tile"] = TileOperator.make
        table["Pad"] = PadOperator.make
        table["Shape"] = ConstantOperator.shape
        table["Size"] = ConstantOperator.size
        table["ConstantOfShape"] = ConstantOperator.constantOfShape
        table["Range"] = ConstantOperator.range
        table["Resize"] = ResizeOperator.resize
        table["Upsample"] = ResizeOperator.upsample
        table["ConvTranspose"] = ConvTransposeOperator.make
        table["DepthToSpace"] = DepthSpaceRearrangement.depthToSpace
        table["SpaceToDepth"] = DepthSpaceRearrangement.spaceToDepth
        return table
    }()
}
