import Executor
/// What a plan decides for one quantizable layer.
///
/// `weights` is acted on everywhere. `activations` is applied by `eval --plan` and `export`
/// (calibrated per tensor, `PlanActivations`); the workbench's `PlanEvaluator` refuses it. `split`
/// is reserved (SplitQuant layers are chosen as `split3:SPEC` weights instead): it round-trips
/// through plan files (written only when set) so that a plan made by a later version is not
/// silently stripped, but nothing evaluates it.
public struct LayerChoice: Hashable, Sendable {
    /// The weight quantizer; nil keeps the FP32 weights (32 bits per weight, no metadata).
    public var weights: QuantizerSpec?
    /// Quantizer of the layer's input activations; nil = FP32 (see above for who applies it).
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
