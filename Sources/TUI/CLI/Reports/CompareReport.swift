import Analysis

/// `qscope compare`: every quantizer family at one bit-width, one row each.
///
/// The JSON writes absent values as explicit nulls (`layer`, `calibration_samples`, `fisher`, a
/// row's `accuracy` and `delta`), and infinite SQNRs as the strings "inf" / "-inf".
struct CompareReport: CommandReport {
    var model: String
    var data: String
    var samples: Int
    var bits: Int
    /// The one layer quantized (nil: all of them).
    var layer: String?
    /// All quantizable layers (text only).
    var layerCount: Int
    /// Activation rows' calibration samples (nil: no activation rows).
    var calibrationSamples: Int?
    /// The Fisher diagonal that weighted the lut rows' k-means.
    var fisher: Fisher?
    var seconds: Double
    var rows: [QuantizerComparison.Row]

    struct Fisher: Encodable {
        var samples: Int
        var loss: String
        var seconds: Double
    }

    private enum CodingKeys: String, CodingKey {
        case model, data, samples, bits, layer, calibrationSamples = "calibration_samples", fisher, seconds, rows
    }

    private enum RowKeys: String, CodingKey {
        case quantizer, bitsPerWeight = "bits_per_weight", sizeMB = "size_mb", weightSQNR = "weight_sqnr_db"
        case outputSQNR = "output_sqnr_db", seconds, fisherWeighted = "fisher_weighted", accuracy, delta
        case denseSizeMB = "dense_size_mb", activations, smoothedLayers = "smoothed_layers"
        case metric, value, valueDelta = "value_delta"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(data, forKey: .data)
        try container.encode(samples, forKey: .samples)
        try container.encode(bits, forKey: .bits)
        try container.encode(layer, forKey: .layer)
        try container.encode(calibrationSamples, forKey: .calibrationSamples)
        try container.encode(fisher, forKey: .fisher)
        try container.encode(seconds, forKey: .seconds)
        var rowsContainer = container.nestedUnkeyedContainer(forKey: .rows)
        for row in rows {
            var object = rowsContainer.nestedContainer(keyedBy: RowKeys.self)
            try object.encode(row.quantizer, forKey: .quantizer)
            try object.encode(row.bitsPerWeight, forKey: .bitsPerWeight)
            try object.encode(row.sizeMB, forKey: .sizeMB)
            try Self.encodeDecibels(row.weightSQNR, in: &object, forKey: .weightSQNR)
            try Self.encodeDecibels(row.outputSQNR, in: &object, forKey: .outputSQNR)
            try object.encode(row.seconds, forKey: .seconds)
            try object.encode(row.fisherWeighted, forKey: .fisherWeighted)
            try object.encode(row.accuracy, forKey: .accuracy)
            try object.encode(row.delta, forKey: .delta)
            try object.encodeIfPresent(row.denseSizeMB, forKey: .denseSizeMB)
            try object.encodeIfPresent(row.activations, forKey: .activations)
            try object.encodeIfPresent(row.smoothedLayers, forKey: .smoothedLayers)
            try object.encodeIfPresent(row.headline, forKey: .metric)
            if let value = row.score { try Self.encodeDecibels(value, in: &object, forKey: .value) }
            if let delta = row.scoreDelta, delta.isFinite { try object.encode(delta, forKey: .valueDelta) }
        }
    }

    /// An SQNR in dB (or a headline value); "inf" when the quantizer was exact, "-inf" otherwise non-finite.
    private static func encodeDecibels(_ value: Double, in container: inout KeyedEncodingContainer<RowKeys>, forKey key: RowKeys) throws {
        if value.isFinite {
            try container.encode(value, forKey: key)
        } else {
            try container.encode(value > 0 ? "inf" : "-inf", forKey: key)
        }
    }

    var lines: [String] {
        var lines = ["model  \(model)  \(layer.map { "layer \($0)" } ?? "all \(layerCount) layers")  \(samples) samples  B=\(bits)"]
        // Outputs no labels score (embeddings, token logits): the headline metric instead of accuracy.
        let headline = rows.first?.headline
        let byMetric = headline == .cosine || headline == .kl
        let scoreTitles = byMetric ? [headline!.rawValue, "Δ"] : ["accuracy %", "Δ pts"]
        let titles = ["bits/w", "size MB", "W SQNR dB", "out SQNR dB"] + scoreTitles + ["s"]
        var table = ReportTable(columns: [.init("quantizer")] + titles.map { ReportTable.Column($0, .right) })
        for row in rows {
            let score = byMetric ? [row.score.map { fixed($0, 5) } ?? "n/a", row.scoreDelta.map { (($0 >= 0) ? "+" : "") + fixed($0, 5) } ?? "n/a"]
                : [(row.accuracy ?? (row.headline == .agreement ? row.score : nil)).map { fixed($0 * 100, 2) } ?? "n/a",
                   (row.delta ?? (row.headline == .agreement ? row.scoreDelta : nil)).map { (($0 >= 0) ? "+" : "") + fixed($0 * 100, 2) } ?? "n/a"]
            let size = fixed(row.sizeMB, 4) + (row.denseSizeMB.map { " (dense \(fixed($0, 4)))" } ?? "")
            table.append([row.quantizer + (row.fisherWeighted ? " (Fisher)" : "") + (row.activations.map { " A " + $0 } ?? ""),
                          fixed(row.bitsPerWeight, 3), size,
                          row.weightSQNR.isFinite ? fixed(row.weightSQNR, 2) : "inf",
                          row.outputSQNR.isFinite ? fixed(row.outputSQNR, 2) : "inf"] + score + [fixed(row.seconds, 2)])
        }
        lines += table.render()
        if let fisher {
            lines.append("lut rows marked (Fisher): k-means weighted by the Fisher diagonal (\(fisher.loss) on \(fisher.samples) samples, \(fixed(fisher.seconds, 2)) s, included in the total)")
        }
        lines.append("total \(fixed(seconds, 1)) s")
        return lines
    }
}
