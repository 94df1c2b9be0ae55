import Executor
/// The accuracy of the model with only one layer quantized (AIMET-style per-layer sensitivity),
/// at each analysed bit-width with the default `intB` spec (symmetric, per output channel, absmax).
///
/// The metric is the evaluation's headline turned larger-is-better (`PlanEvaluation.orientedScore`):
/// top-1 accuracy with labels, top-1 agreement with the FP32 model's predictions for logits without
/// labels (then the FP32 reference is 1), the cosine to the FP32 output for embeddings.
public struct LayerAccuracy: Sendable, Equatable {
    /// The layer's name (`QuantizableLayer.name`).
    public var name: String
    /// Bit-width -> accuracy (fraction 0...1) with only this layer quantized at that width.
    public var accuracy: [Int: Double]
    /// The FP32 model's accuracy on the same samples.
    public var referenceAccuracy: Double
    public var samples: Int

    /// Bit-width -> `referenceAccuracy − accuracy` (positive: quantizing the layer costs accuracy).
    public var drop: [Int: Double] { accuracy.mapValues { referenceAccuracy - $0 } }

    public init(name: String, accuracy: [Int: Double], referenceAccuracy: Double, samples: Int) {
        self.name = name
        self.accuracy = accuracy
        self.referenceAccuracy = referenceAccuracy
        self.samples = samples
    }
}
