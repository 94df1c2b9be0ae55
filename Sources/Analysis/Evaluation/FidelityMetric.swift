/// How a (quantized) model's outputs are scored against labels or against the FP32 model's outputs
/// on the same samples; `--metric` picks the headline among them.
public enum FidelityMetric: String, Sendable, Hashable, Codable, CaseIterable {
    /// Top-1 correct against the labels (classifier logits `[N, classes]` with labels only).
    case accuracy
    /// Top-1 along the last axis equal to the FP32 model's, over every position (sample, token).
    case agreement
    /// Cosine similarity of each sample's whole output to the FP32 output, averaged over samples.
    case cosine
    /// Output signal-to-quantization-noise ratio in dB: 10·log10(Σ ref² / Σ (out − ref)²).
    case sqnr
    /// KL(p_fp32 ‖ p_out) of the last-axis softmax, nats, averaged over every position (logits only).
    case kl

    /// Whether a larger value is better (all but KL).
    public var higherIsBetter: Bool { self != .kl }

    /// The headline when the user does not choose: accuracy when labels score the output, else
    /// agreement for logits and cosine for anything else.
    public static func defaultHeadline(for layout: OutputLayout, hasLabels: Bool) -> FidelityMetric {
        if hasLabels && layout.isClassifier { return .accuracy }
        return layout.kind == .logits ? .agreement : .cosine
    }

    /// Why `self` cannot score `layout` (with or without labels), or nil when it can.
    public func unavailableReason(for layout: OutputLayout, hasLabels: Bool) -> String? {
        switch self {
        case .accuracy:
            if !hasLabels { return "accuracy needs labels (an array 'y' in the data, or --labels)" }
            if !layout.isClassifier { return "accuracy needs [N, classes] logits; the output '\(layout.name)' is \(layout.shapeText)" }
        case .agreement, .kl:
            if layout.classes < 2 { return "\(rawValue) needs at least 2 values along the last axis; the output '\(layout.name)' is \(layout.shapeText)" }
        case .cosine, .sqnr:
            return nil
        }
        return nil
    }

    /// Short label for tables and the status line: "acc", "agree", "cos", "SQNR", "KL".
    public var shortName: String {
        switch self {
        case .accuracy: return "acc"
        case .agreement: return "agree"
        case .cosine: return "cos"
        case .sqnr: return "SQNR"
        case .kl: return "KL"
        }
    }
}

/// Every fidelity metric of one evaluation (nil where it does not apply).
public struct FidelityMetrics: Sendable, Hashable, Codable {
    /// Fraction correct against the labels.
    public var accuracy: Double?
    /// Fraction of positions whose top-1 equals the FP32 model's.
    public var agreement: Double?
    /// Mean and minimum over samples of the cosine similarity to the FP32 output.
    public var cosineMean: Double
    public var cosineMin: Double
    /// dB; +infinity when the outputs equal the FP32 outputs exactly.
    public var sqnrDB: Double
    /// Mean KL divergence per position, nats (logits only).
    public var kl: Double?

    public init(accuracy: Double?, agreement: Double?, cosineMean: Double, cosineMin: Double, sqnrDB: Double, kl: Double?) {
        self.accuracy = accuracy
        self.agreement = agreement
        self.cosineMean = cosineMean
        self.cosineMin = cosineMin
        self.sqnrDB = sqnrDB
        self.kl = kl
    }

    /// The value of `metric`, nil when it was not computed.
    public func value(_ metric: FidelityMetric) -> Double? {
        switch metric {
        case .accuracy: return accuracy
        case .agreement: return agreement
        case .cosine: return cosineMean
        case .sqnr: return sqnrDB
        case .kl: return kl
        }
    }
}
