import Executor
/// The per-layer quantization choices for one model: a value, cheap to copy, compare and undo.
///
/// Choices are kept in the model's layer order (`Model.layers`), so "the first layer that differs"
/// (where a re-evaluation has to start) is an index.
public struct Plan: Hashable, Sendable {
    /// Layer names, in model order.
    public private(set) var layerNames: [String]
    /// One choice per layer, same order as `layerNames`.
    public var choices: [LayerChoice]

    /// A plan that keeps every layer in FP32.
    public init(layerNames: [String]) {
        self.layerNames = layerNames
        self.choices = Array(repeating: .float, count: layerNames.count)
    }

    public init(layerNames: [String], choices: [LayerChoice]) {
        precondition(layerNames.count == choices.count, "one choice per layer")
        self.layerNames = layerNames
        self.choices = choices
    }

    /// The all-float plan for `model`.
    public init(model: Model) { self.init(layerNames: model.layers.map(\.name)) }

    public var count: Int { choices.count }

    /// The index of layer `name`, if the plan has it.
    public func index(of name: String) -> Int? { layerNames.firstIndex(of: name) }

    /// True when every layer keeps FP32 weights (and nothing else is set).
    public var isAllFloat: Bool { choices.allSatisfy { $0 == .float } }

    /// The first layer whose choice differs from `other`'s; nil when equal. Plans of different
    /// models (other layer names) differ from layer 0.
    public func firstDifference(from other: Plan) -> Int? {
        guard layerNames == other.layerNames else { return 0 }
        return choices.indices.first { choices[$0] != other.choices[$0] }
    }
}
