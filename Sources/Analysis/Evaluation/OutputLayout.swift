import Executor

/// What a model's scored output holds, which decides the metrics and the label-free loss.
public enum OutputKind: String, Sendable, Hashable, Codable {
    /// Unnormalised class scores along the last axis (classifier logits, a language model's
    /// per-token vocabulary logits): top-1 agreement and KL divergence apply.
    case logits
    /// Continuous values (sentence embeddings, hidden states, regression outputs): cosine and SQNR.
    case embedding
}

/// The first output of a model, per sample: shape, kind and how its elements group into positions.
///
/// A sample's output of shape `[d1, ..., dk]` has `positions = d1 · … · d(k-1)` rows of
/// `classes = dk` values: one row for `[N, classes]` logits, `T` rows for `[N, T, vocab]`.
public struct OutputLayout: Sendable, Hashable {
    /// The output's name in the graph.
    public var name: String
    /// One sample's output shape (the graph's output shape without the leading sample dimension).
    public var sampleShape: [Int]
    public var kind: OutputKind
    /// Why `kind` was chosen, for listings: "named 'logits'", "made by LayerNormalization", ...
    public var kindReason: String

    public init(name: String, sampleShape: [Int], kind: OutputKind, kindReason: String) {
        self.name = name
        self.sampleShape = sampleShape
        self.kind = kind
        self.kindReason = kindReason
    }

    /// Values per sample.
    public var sampleSize: Int { sampleShape.reduce(1, *) }
    /// Length of the last axis (1 for a scalar per sample).
    public var classes: Int { sampleShape.last ?? 1 }
    /// Rows of `classes` values per sample.
    public var positions: Int { classes > 0 ? sampleSize / classes : 0 }
    /// Whether labels can score this output: one row of at least 2 class scores per sample.
    public var isClassifier: Bool { kind == .logits && positions == 1 && classes >= 2 }

    /// `[N, 40, 6625]`-style text of the output shape with `N` for the samples.
    public var shapeText: String { "[" + (["N"] + sampleShape.map(String.init)).joined(separator: ", ") + "]" }

    /// The layout of `model`'s first output, whose compiled shape is `outputShape` (batch first).
    ///
    /// The kind comes from the output's name when it says (`logits`, `scores` → logits; `embedding`,
    /// `hidden`, `pooler`, `features` → embedding), else from the op that computes it (looking
    /// through reshapes and transposes): a linear layer, Softmax or LogSoftmax makes logits; a
    /// normalisation, a pooling or any other op an embedding. A rank-1 sample of at least two
    /// values made by an unknown op is taken as class scores, as classifiers have always been read.
    public static func infer(model: Model, outputShape: [Int]) -> OutputLayout {
        let graph = model.graph
        let id = graph.outputIDs[0]
        let name = graph.valueNames[id]
        let sampleShape = Array(outputShape.dropFirst())
        let lower = name.lowercased()
        for (word, kind) in [("logit", OutputKind.logits), ("score", .logits), ("embed", .embedding), ("hidden", .embedding),
                             ("pool", .embedding), ("feature", .embedding)] where lower.contains(word) {
            return OutputLayout(name: name, sampleShape: sampleShape, kind: kind, kindReason: "named '\(name)'")
        }
        guard let producer = producingOp(of: id, in: graph) else {
            return OutputLayout(name: name, sampleShape: sampleShape, kind: sampleShape.count == 1 ? .logits : .embedding,
                                kindReason: "its shape")
        }
        let logitOps: Set<String> = ["Gemm", "MatMul", "Softmax", "LogSoftmax", "Add"]
        return OutputLayout(name: name, sampleShape: sampleShape, kind: logitOps.contains(producer) ? .logits : .embedding,
                            kindReason: "made by \(producer)")
    }

    /// The op computing `id`, looking through ops that only move values (nil for an input or constant).
    /// An Add counts only when it adds a bias to a MatMul (a linear layer split in two).
    private static func producingOp(of id: ValueID, in graph: Graph) -> String? {
        let movers: Set<String> = ["Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Cast"]
        var current = id
        for _ in 0..<graph.nodes.count {
            guard let node = graph.nodes.last(where: { $0.outputs.contains(current) }) else { return nil }
            if movers.contains(node.opType), let input = node.inputs.first ?? nil {
                current = input
                continue
            }
            if node.opType == "Add" {
                let feedsFromLinear = node.inputs.contains { input in
                    guard let input else { return false }
                    return graph.nodes.contains { ["MatMul", "Gemm"].contains($0.opType) && $0.outputs.contains(input) }
                }
                return feedsFromLinear ? "Add" : "Add (not a bias)"
            }
            return node.opType
        }
        return nil
    }
}
