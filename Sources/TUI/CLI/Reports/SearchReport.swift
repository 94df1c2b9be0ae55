import Analysis

/// `qscope search`: the plan a bit allocation under a size budget found, and how it scores.
struct SearchReport: CommandReport {
    /// "hawq" or "greedy".
    var method: String
    var model: String
    var data: String
    var samples: Int
    var budget: SizeBudget
    /// The budget in bits, metadata included.
    var budgetBits: Int
    /// The plan's size: bits per weight and MB (2^20 bytes), with metadata and codes only.
    var averageBits: Double
    var averagePayloadBits: Double
    var sizeMB: Double
    var payloadMB: Double
    var totalBits: Int
    /// Accuracy against the labels, or without labels top-1 agreement with FP32.
    var accuracy: Double
    var fp32Accuracy: Double?
    var accuracyIsAgreementWithFP32: Bool
    /// The headline metric (which the greedy search measures) and every metric against FP32.
    var fidelity: FidelityReportPart
    /// Plan evaluations the search ran.
    var evaluations: Int
    var seconds: Double
    /// The candidate widths and family.
    var bits: [Int]
    var family: String
    /// Each layer's choice, in model order.
    var layers: [LayerChoice]
    var planFile: String?
    /// hawq: the Hessian traces and the allocation's Σ Ω.
    var hawq: HAWQ?
    /// greedy: the steps taken.
    var greedySteps: Int?

    struct LayerChoice {
        var name: String
        /// The spec in the plan ("float" for none).
        var spec: String
        /// The layer's Ω at its choice (hawq).
        var omega: Double?
    }

    struct HAWQ {
        var resolutionBits: Int
        var probes: Int
        var hessianSeconds: Double
        var hessianSamples: Int
        var omega: Double
    }

    private enum CodingKeys: String, CodingKey {
        case method, model, data, samples, budget, budgetBits = "budget_bits", averageBits = "avg_bits"
        case averagePayloadBits = "avg_payload_bits", sizeMB = "size_mb", payloadMB = "payload_mb", totalBits = "total_bits"
        case accuracy, fp32Accuracy = "fp32_accuracy", accuracyIsAgreementWithFP32 = "accuracy_is_agreement_with_fp32"
        case evaluations, seconds, bits, family, layers, planFile = "plan_file"
        case resolutionBits = "resolution_bits", probes, hessianSeconds = "hessian_seconds", hessianSamples = "hessian_samples"
        case omega, steps
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(method, forKey: .method)
        try container.encode(model, forKey: .model)
        try container.encode(data, forKey: .data)
        try container.encode(samples, forKey: .samples)
        switch budget {
        case .averageBits(let value): try container.encode(["avg_bits": value], forKey: .budget)
        case .megabytes(let value): try container.encode(["size_mb": value], forKey: .budget)
        }
        try container.encode(budgetBits, forKey: .budgetBits)
        try container.encode(averageBits, forKey: .averageBits)
        try container.encode(averagePayloadBits, forKey: .averagePayloadBits)
        try container.encode(sizeMB, forKey: .sizeMB)
        try container.encode(payloadMB, forKey: .payloadMB)
        try container.encode(totalBits, forKey: .totalBits)
        try container.encode(accuracy, forKey: .accuracy)
        try container.encodeIfPresent(fp32Accuracy, forKey: .fp32Accuracy)
        if accuracyIsAgreementWithFP32 { try container.encode(true, forKey: .accuracyIsAgreementWithFP32) }
        try container.encode(evaluations, forKey: .evaluations)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(bits, forKey: .bits)
        try container.encode(family, forKey: .family)
        try container.encode(Dictionary(uniqueKeysWithValues: layers.map { ($0.name, $0.spec) }), forKey: .layers)
        try container.encodeIfPresent(planFile, forKey: .planFile)
        if let hawq {
            try container.encode(hawq.resolutionBits, forKey: .resolutionBits)
            try container.encode(hawq.probes, forKey: .probes)
            try container.encode(hawq.hessianSeconds, forKey: .hessianSeconds)
            try container.encode(hawq.hessianSamples, forKey: .hessianSamples)
            try container.encode(hawq.omega, forKey: .omega)
        }
        try container.encodeIfPresent(greedySteps, forKey: .steps)
        try fidelity.encode(to: encoder)
    }

    var lines: [String] {
        var lines = [
            "model     \(model)",
            "data      \(data)  (\(samples) samples)",
            "method    \(method), \(budget.description) = \(budgetBits) bits with metadata; candidates \(family) at \(bits.map(String.init).joined(separator: ","))",
            "size      \(fixed(sizeMB, 5)) MB with metadata (\(fixed(averageBits, 3)) bits/weight), \(fixed(payloadMB, 5)) MB codes only (\(fixed(averagePayloadBits, 3)) bits/weight)",
        ]
        var accuracyLine = "\(accuracyIsAgreementWithFP32 ? "agreement with FP32" : "accuracy")  \(fixed(accuracy * 100, 2)) %"
        if let fp32Accuracy { accuracyLine += "  (FP32 \(fixed(fp32Accuracy * 100, 2)) %)" }
        if fidelity.metric == .accuracy || fidelity.metric == .agreement {
            lines.append(accuracyLine)
        } else {
            lines += fidelity.lines.dropFirst()
        }
        if let hawq {
            lines.append("Σ Ω       \(NumberFormat.scientific(hawq.omega, digits: 4))  (\(hawq.probes) probes, resolution \(hawq.resolutionBits) bits)")
        }
        lines.append("work      \(evaluations) evaluation\(evaluations == 1 ? "" : "s"), \(fixed(seconds, 2)) s")
        if let planFile { lines.append("plan      \(planFile)") }
        lines.append("")
        var table = ReportTable(columns: [.init(), .init()], showsHeader: false)
        for layer in layers {
            table.append([layer.name, layer.spec + (layer.omega.map { "  Ω \(NumberFormat.scientific($0, digits: 3))" } ?? "")])
        }
        return lines + table.render()
    }
}
