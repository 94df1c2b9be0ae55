import Executor
/// What a plan decides for one quantizable layer.
///
/// Only `weights` is acted on today. `activations` and `split` are reserved for the activation and
/// SplitQuant issues: they round-trip through plan files (written only when set) so that a plan
/// made by a later version is not silently stripped, but the engine refuses to evaluate them.
public struct LayerChoice: Hashable, Sendable {
    /// The weight quantizer; nil keeps the FP32 weights (32 bits per weight, no metadata).
    public var weights: QuantizerSpec?
    /// Quantizer of the layer's input activations; nil = FP32 (reserved, see above).
    public var activations: QuantizerSpec?
    /// Number of parts the layer is split into (SplitQuant); nil = not split (reserved).
    public var split: Int?

    public init(weights: QuantizerSpec? = nil, activations: QuantizerSpec? = nil, split: Int? = nil) {
        self.weights = weights
        self.activations = activations
        self.split = split
    }

    /// FP32 everywhere.
    public static let float = LayerChoice()

    /// Nominal weight bits: the spec's code width, or 32 for float.
    public var weightBits: Int { weights?.bits ?? 32 }
}
