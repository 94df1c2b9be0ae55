import Executor
/// The outcome of evaluating a plan on the evaluation set.
public struct PlanEvaluation: Hashable, Sendable {
    /// The plan that was evaluated.
    public var plan: Plan
    public var samples: Int
    /// Every fidelity metric against the FP32 outputs (accuracy against the labels when they score
    /// the output), and the FP32 model's own (against itself: agreement 1, its accuracy).
    public var metrics: FidelityMetrics
    public var referenceMetrics: FidelityMetrics
    /// The metric the screen, the search and the sweep use.
    public var headline: FidelityMetric
    /// Top-1 correct; nil when labels do not score the output.
    public var correct: Int?
    /// Positions (samples × rows of the output) whose top-1 equals the FP32 model's, out of `positions`.
    public var agreement: Int
    public var positions: Int
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

    public init(plan: Plan, samples: Int, metrics: FidelityMetrics, referenceMetrics: FidelityMetrics,
                headline: FidelityMetric, correct: Int?, agreement: Int, positions: Int, referenceCorrect: Int?,
                layers: [LayerQuantization], size: PlanSize, referenceSize: PlanSize, seconds: Double, resumedAtLayer: Int) {
        self.plan = plan
        self.samples = samples
        self.metrics = metrics
        self.referenceMetrics = referenceMetrics
        self.headline = headline
        self.correct = correct
        self.agreement = agreement
        self.positions = positions
        self.referenceCorrect = referenceCorrect
        self.layers = layers
        self.size = size
        self.referenceSize = referenceSize
        self.seconds = seconds
        self.resumedAtLayer = resumedAtLayer
    }

    /// The headline metric's value (a fraction for accuracy and agreement, dB for SQNR, nats for KL).
    public var score: Double { metrics.value(headline) ?? .nan }
    /// The FP32 model's value of the headline metric (1 for agreement and cosine, infinite SQNR, KL 0).
    public var referenceScore: Double { referenceMetrics.value(headline) ?? .nan }

    /// The headline value turned so that larger is better (KL negated): what the search compares,
    /// the sweep's front is made of and the Trade-off pane plots. Equal to `accuracy` for a
    /// classifier scored by accuracy or agreement.
    public var orientedScore: Double { headline.higherIsBetter ? score : -score }

    /// How far the plan falls below FP32 on the headline metric, in its units: positive is worse
    /// (KL grows, the others shrink). SQNR has no finite FP32 value: its loss is −SQNR, so budgets
    /// on it are read as "at least X dB".
    public var scoreLoss: Double {
        switch headline {
        case .kl: return score - referenceScore
        case .sqnr: return -score
        default: return referenceScore - score
        }
    }

    /// Fraction correct, or top-1 agreement with FP32 when labels do not score the output.
    public var accuracy: Double {
        if let correct { return Double(correct) / Double(max(samples, 1)) }
        return Double(agreement) / Double(max(positions, 1))
    }

    public var referenceAccuracy: Double? { referenceCorrect.map { Double($0) / Double(max(samples, 1)) } }

    /// The 95 % Wilson interval of `accuracy` (over samples with labels, over positions without).
    public var interval: WilsonInterval {
        correct.map { WilsonInterval(correct: $0, samples: samples) } ?? WilsonInterval(correct: agreement, samples: positions)
    }
}
