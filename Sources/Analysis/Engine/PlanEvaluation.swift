import Executor
/// The outcome of evaluating a plan on the evaluation set.
public struct PlanEvaluation: Hashable, Sendable {
    /// The plan that was evaluated.
    public var plan: Plan
    public var samples: Int
    /// Top-1 correct; nil when the data has no labels (then `agreement` is the metric).
    public var correct: Int?
    /// Top-1 predictions equal to the FP32 model's, over `samples`.
    public var agreement: Int
    /// FP32 correct on the same data (nil without labels).
    public var referenceCorrect: Int?
    /// Per layer, in model order.
    public var layers: [LayerQuantization]
    public var size: PlanSize
    /// The FP32 size of the same layers.
    public var referenceSize: PlanSize
    /// Wall time of the evaluation (quantization, forward passes, scoring), seconds.
    public var seconds: Double
    /// The layer the forward passes started from (0 = a full pass; the layer count when no pass was
    /// needed, e.g. the FP32 plan, whose result is the cached reference).
    public var resumedAtLayer: Int

    public init(plan: Plan, samples: Int, correct: Int?, agreement: Int, referenceCorrect: Int?,
                layers: [LayerQuantization], size: PlanSize, referenceSize: PlanSize, seconds: Double, resumedAtLayer: Int) {
        self.plan = plan
        self.samples = samples
        self.correct = correct
        self.agreement = agreement
        self.referenceCorrect = referenceCorrect
        self.layers = layers
        self.size = size
        self.referenceSize = referenceSize
        self.seconds = seconds
        self.resumedAtLayer = resumedAtLayer
    }

    /// Fraction correct, or agreement with FP32 when there are no labels.
    public var accuracy: Double {
        Double(correct ?? agreement) / Double(max(samples, 1))
    }

    public var referenceAccuracy: Double? { referenceCorrect.map { Double($0) / Double(max(samples, 1)) } }

    /// The 95 % Wilson interval of `accuracy`.
    public var interval: WilsonInterval { WilsonInterval(correct: correct ?? agreement, samples: samples) }
}
