import Analysis

/// `qscope pareto`: accuracy against size for every distinct HAWQ-optimal plan and the uniform
/// plans, with the non-dominated front.
struct ParetoReport: CommandReport {
    var model: String
    var data: String
    var samples: Int
    var points: [Point]
    /// Distinct HAWQ plans over all budgets, and how many of them were evaluated (`--max-plans`).
    var distinctHAWQPlans: Int
    var evaluatedHAWQPlans: Int
    var resolutionBits: Int
    var probes: Int
    var hessianSeconds: Double
    var sweepSeconds: Double
    var bits: [Int]
    var family: String
    var fp32Accuracy: Double?
    /// The metric the front is made of (`--metric`).
    var metric: FidelityMetric

    var front: Int { points.filter(\.onFront).count }

    struct Point: Encodable {
        /// "hawq" or "uniform".
        var source: String
        var onFront: Bool
        /// Bits per weight and MB (2^20 bytes), metadata included.
        var averageBits: Double
        var sizeMB: Double
        var totalBits: Int
        /// Accuracy against the labels, or top-1 agreement with FP32.
        var accuracy: Double
        /// The headline metric's value.
        var value: Double
        var omega: Double
        /// Each layer's spec ("float" for none), by layer name.
        var layers: [String: String]

        private enum CodingKeys: String, CodingKey {
            case source, onFront = "on_front", averageBits = "avg_bits", sizeMB = "size_mb", totalBits = "total_bits"
            case accuracy, value, omega, layers
        }
    }

    private enum CodingKeys: String, CodingKey {
        case model, data, samples, points, distinctHAWQPlans = "distinct_hawq_plans", evaluatedHAWQPlans = "evaluated_hawq_plans"
        case front, resolutionBits = "resolution_bits", probes, hessianSeconds = "hessian_seconds", sweepSeconds = "sweep_seconds"
        case bits, family, fp32Accuracy = "fp32_accuracy", metric
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(data, forKey: .data)
        try container.encode(samples, forKey: .samples)
        try container.encode(points, forKey: .points)
        try container.encode(distinctHAWQPlans, forKey: .distinctHAWQPlans)
        try container.encode(evaluatedHAWQPlans, forKey: .evaluatedHAWQPlans)
        try container.encode(front, forKey: .front)
        try container.encode(resolutionBits, forKey: .resolutionBits)
        try container.encode(probes, forKey: .probes)
        try container.encode(hessianSeconds, forKey: .hessianSeconds)
        try container.encode(sweepSeconds, forKey: .sweepSeconds)
        try container.encode(bits, forKey: .bits)
        try container.encode(family, forKey: .family)
        try container.encodeIfPresent(fp32Accuracy, forKey: .fp32Accuracy)
        try container.encode(metric, forKey: .metric)
    }

    var lines: [String] {
        let capped = evaluatedHAWQPlans < distinctHAWQPlans ? " (\(evaluatedHAWQPlans) evaluated, --max-plans)" : ""
        var lines = [
            "model     \(model)",
            "data      \(data)  (\(samples) samples)",
            "plans     \(distinctHAWQPlans) distinct HAWQ plans\(capped) + \(bits.count) uniform, \(front) on the front",
            "time      Hessian \(fixed(hessianSeconds, 2)) s (\(probes) probes), sweep \(fixed(sweepSeconds, 2)) s",
            "",
        ]
        // The headers carry spaces of their own: "accuracy" and "Σ Ω" sit where this listing has
        // always put them, a little left of their numbers' right edge.
        var table = ReportTable(columns: [
            .init("", width: .fixed(3)), .init("source", width: .fixed(8), gap: 0),
            .init("bits/w", .right, width: .fixed(8), gap: 0), .init("size MB", .right, width: .fixed(11)),
            .init("accuracy ", .right, width: .fixed(10)), .init("Σ Ω  ", .right, width: .fixed(10)),
        ])
        let percent = metric == .accuracy || metric == .agreement
        if !percent { table.columns[4] = .init((metric == .sqnr ? "SQNR dB" : metric.rawValue) + " ", .right, width: .fixed(12)) }
        for point in points {
            let value = percent ? fixed(point.accuracy * 100, 2) + " %" : fixed(point.value, metric == .sqnr ? 2 : 5)
            table.append([point.onFront ? " * " : "", point.source, fixed(point.averageBits, 3), fixed(point.sizeMB, 5),
                          value, NumberFormat.scientific(point.omega, digits: 3)])
        }
        lines += table.render()
        lines += ["", "* on the front (no other point is both smaller and better on \(metric.rawValue))"]
        return lines
    }
}
