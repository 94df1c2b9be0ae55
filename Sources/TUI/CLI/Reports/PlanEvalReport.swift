import Analysis

/// `qscope eval --plan`: the workbench's evaluation of a plan, so the accuracy equals the screen's.
struct PlanEvalReport: CommandReport {
    var model: String
    var data: String
    var plan: String
    var samples: Int
    var classes: Int
    var batch: Int
    var seconds: Double
    /// Sizes of the quantizable weights in MB of 2^20 bytes: codes only, and with metadata.
    var weightsMB: Double
    var weightsWithMetadataMB: Double
    var averageBitsPerWeight: Double
    var averageBitsPerWeightWithMetadata: Double
    /// Correct top-1 predictions against the labels (nil: the data has no labels).
    var correct: Int?
    /// The accuracy against the labels, or without labels the top-1 agreement with FP32.
    var accuracy: Double
    var ci95Low: Double
    var ci95High: Double
    var fp32Accuracy: Double?
    /// Layers with a lut weight spec (text only) and how their k-means was weighted.
    var lutLayers: Int
    var lutWeighting: String?
    var fisherSamples: Int?
    /// Top-1 predictions equal to FP32's (plans without activation specs).
    var agreementWithFP32: Int?
    /// The headline metric and every metric against FP32.
    var fidelity: FidelityReportPart
    /// Plans with activation specs: the calibration and the quantized tensors.
    var calibrationSamples: Int?
    var activations: [QuantizedActivation]?

    struct QuantizedActivation: Encodable {
        var tensor: String
        var spec: String
        var layers: [String]
        var scale: Double
        var zeroPoint: Int

        private enum CodingKeys: String, CodingKey {
            case tensor, spec, layers, scale, zeroPoint = "zero_point"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case model, data, plan, samples, classes, batch, seconds, weightsMB = "weights_mb"
        case weightsWithMetadataMB = "weights_with_metadata_mb", averageBitsPerWeight = "average_bits_per_weight"
        case averageBitsPerWeightWithMetadata = "average_bits_per_weight_with_metadata"
        case correct, accuracy, ci95Low = "ci95_low", ci95High = "ci95_high", fp32Accuracy = "fp32_accuracy"
        case lutWeighting = "lut_weighting", fisherSamples = "fisher_samples", agreementWithFP32 = "agreement_with_fp32"
        case calibrationSamples = "calibration_samples", activations
    }

    /// The accuracy and its interval are listed only against labels (without labels, the
    /// agreement says the same).
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(data, forKey: .data)
        try container.encode(plan, forKey: .plan)
        try container.encode(samples, forKey: .samples)
        try container.encode(classes, forKey: .classes)
        try container.encode(batch, forKey: .batch)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(weightsMB, forKey: .weightsMB)
        try container.encode(weightsWithMetadataMB, forKey: .weightsWithMetadataMB)
        try container.encode(averageBitsPerWeight, forKey: .averageBitsPerWeight)
        try container.encode(averageBitsPerWeightWithMetadata, forKey: .averageBitsPerWeightWithMetadata)
        if let correct {
            try container.encode(correct, forKey: .correct)
            try container.encode(accuracy, forKey: .accuracy)
            try container.encode(ci95Low, forKey: .ci95Low)
            try container.encode(ci95High, forKey: .ci95High)
        }
        try container.encodeIfPresent(fp32Accuracy, forKey: .fp32Accuracy)
        try container.encodeIfPresent(lutWeighting, forKey: .lutWeighting)
        try container.encodeIfPresent(fisherSamples, forKey: .fisherSamples)
        try container.encodeIfPresent(agreementWithFP32, forKey: .agreementWithFP32)
        try container.encodeIfPresent(calibrationSamples, forKey: .calibrationSamples)
        try container.encodeIfPresent(activations, forKey: .activations)
        try fidelity.encode(to: encoder)
    }

    var lines: [String] {
        var lines = ["model     \(model)", "plan      \(plan)", "data      \(data)  (\(samples) samples)"]
        if let correct, let fp32Accuracy {
            lines.append("accuracy  \(fixed(accuracy * 100, 2)) %  (95% CI \(fixed(ci95Low * 100, 2))–\(fixed(ci95High * 100, 2)) %)  \(correct)/\(samples) correct")
            lines.append("fp32      \(fixed(fp32Accuracy * 100, 2)) %  (Δ \(fixed((accuracy - fp32Accuracy) * 100, 2)) pp)")
        } else if fidelity.output.kind == .logits {
            lines.append("agreement \(fixed(accuracy * 100, 2)) % of top-1 predictions equal FP32's (no labels score this output)")
        }
        if fidelity.metric != .accuracy && fidelity.metric != .agreement { lines += fidelity.lines }
        if lutLayers > 0 {
            lines.append("lut       \(lutLayers) layers, " + (lutWeighting == "fisher"
                ? "k-means weighted by the Fisher diagonal (\(fisherSamples ?? 0) samples)" : "plain k-means"))
        }
        if let activations, let calibrationSamples {
            lines.append("acts      \(activations.count) layer inputs quantized per tensor, calibrated on \(calibrationSamples) samples")
        }
        lines.append("size      \(fixed(weightsMB, 4)) MB weights, \(fixed(weightsWithMetadataMB, 4)) MB with metadata, \(fixed(averageBitsPerWeight, 2)) bits/weight")
        return lines
    }
}
