import Analysis

/// The scoring fields every scoring report carries: the headline metric and its value, every
/// metric computed, and what the output was taken to be.
struct FidelityReportPart: Encodable {
    var metric: FidelityMetric
    var value: Double
    var metrics: Metrics
    var output: Output

    struct Metrics: Encodable {
        var accuracy: Double?
        var agreement: Double?
        var cosineMean: Double
        var cosineMin: Double
        /// dB; "inf" in JSON when the outputs equal FP32's exactly.
        var sqnrDB: Double
        var kl: Double?

        private enum CodingKeys: String, CodingKey {
            case accuracy, agreement, cosineMean = "cosine_mean", cosineMin = "cosine_min", sqnrDB = "sqnr_db", kl
        }
    }

    struct Output: Encodable {
        var name: String
        var shape: String
        var kind: OutputKind
        var kindReason: String

        private enum CodingKeys: String, CodingKey {
            case name, shape, kind, kindReason = "kind_reason"
        }
    }

    init(scoring: FidelityScoring, metrics: FidelityMetrics) {
        self.metric = scoring.headline
        self.value = metrics.value(scoring.headline) ?? .nan
        self.metrics = Metrics(accuracy: metrics.accuracy, agreement: metrics.agreement, cosineMean: metrics.cosineMean,
                               cosineMin: metrics.cosineMin, sqnrDB: metrics.sqnrDB, kl: metrics.kl)
        let layout = scoring.layout
        self.output = Output(name: layout.name, shape: layout.shapeText, kind: layout.kind, kindReason: layout.kindReason)
    }

    /// `agreement 97.41 %`, `cosine 0.99871`, `SQNR 23.4 dB`, `KL 0.00213`: one metric as text.
    static func text(_ metric: FidelityMetric, _ value: Double?) -> String {
        guard let value else { return "\(metric.rawValue) n/a" }
        switch metric {
        case .accuracy, .agreement: return "\(metric.rawValue) \(fixed(value * 100, 2)) %"
        case .cosine: return "cosine \(fixed(value, 5))"
        case .sqnr: return value.isInfinite ? "SQNR inf dB" : "SQNR \(fixed(value, 2)) dB"
        case .kl: return "KL \(fixed(value, 5))"
        }
    }

    /// The text lines: the output, the headline, then every metric computed.
    var lines: [String] {
        var lines = ["output    \(output.name) \(output.shape), \(output.kind.rawValue) (\(output.kindReason))"]
        lines.append("headline  \(Self.text(metric, value))")
        var all: [String] = []
        if let accuracy = metrics.accuracy { all.append(Self.text(.accuracy, accuracy)) }
        if let agreement = metrics.agreement { all.append(Self.text(.agreement, agreement)) }
        all.append("cosine \(fixed(metrics.cosineMean, 5)) (min \(fixed(metrics.cosineMin, 5)))")
        all.append(Self.text(.sqnr, metrics.sqnrDB))
        if let kl = metrics.kl { all.append(Self.text(.kl, kl)) }
        lines.append("vs FP32   " + all.joined(separator: ", "))
        return lines
    }
}
