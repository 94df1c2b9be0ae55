import Analysis

/// `qscope analyze`: per-layer sensitivity (`SensitivityAnalysis`'s report) for one model and data.
///
/// JSON: one row per quantizable layer with the parts that ran; maps keyed by bit-width have the
/// width as a string key ("4"), and non-finite values in them (and an infinite asymmetry) are null.
struct AnalyzeReport: CommandReport {
    var model: String
    var data: String
    /// Every quantizable layer's name and parameter count, in model order.
    var layers: [(name: String, parameters: Int)]
    var sensitivity: SensitivityReport
    /// Samples of the Hessian loss (traces and eigenvalues).
    var hessianSamples: Int
    /// The data has no labels: accuracies are top-1 agreement with FP32.
    var unlabelled: Bool

    private enum CodingKeys: String, CodingKey {
        case model, data, layers, seconds, secondsParts = "seconds_parts", parts, probes, loss, lossKind = "loss_kind"
        case samples, note, hessianSamples = "hessian_samples", calibrationSamples = "calibration_samples"
        case evaluationSamples = "evaluation_samples", accuracyMetric = "accuracy_metric", accuracyFP32 = "accuracy_fp32"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(data, forKey: .data)
        var rows = container.nestedUnkeyedContainer(forKey: .layers)
        for index in layers.indices { try encodeLayer(index, into: rows.nestedContainer(keyedBy: DynamicCodingKey.self)) }
        try container.encode(sensitivity.seconds, forKey: .seconds)
        try container.encode(Dictionary(uniqueKeysWithValues: sensitivity.partSeconds.map { ($0.key.rawValue, $0.value) }),
                             forKey: .secondsParts)
        try container.encode(SensitivityPart.allCases.filter { sensitivity.partSeconds[$0] != nil }.map(\.rawValue), forKey: .parts)
        if let hessian = sensitivity.hessian {
            try container.encode(hessian.probes, forKey: .probes)
            try container.encode(hessian.loss, forKey: .loss)
            try container.encode(hessian.lossKind, forKey: .lossKind)
            try container.encode(hessian.samples, forKey: .samples)
            try container.encode(Self.lossNote(hessian.lossKind, samples: hessian.samples), forKey: .note)
        }
        if sensitivity.eigenvalues != nil { try container.encode(hessianSamples, forKey: .hessianSamples) }
        if sensitivity.activations != nil { try container.encode(sensitivity.calibrationSamples, forKey: .calibrationSamples) }
        if let accuracy = sensitivity.accuracy {
            try container.encode(sensitivity.evaluationSamples, forKey: .evaluationSamples)
            try container.encode(unlabelled ? "top-1 agreement with FP32" : "top-1", forKey: .accuracyMetric)
            try container.encodeIfPresent(accuracy.first?.referenceAccuracy, forKey: .accuracyFP32)
        }
    }

    /// Layer `index`'s row: name, parameters and each part's figures.
    private func encodeLayer(_ index: Int, into row: KeyedEncodingContainer<DynamicCodingKey>) throws {
        var row = row
        func put(_ key: String, _ value: some Encodable) throws { try row.encode(value, forKey: DynamicCodingKey(key)) }
        try put("name", layers[index].name)
        try put("parameters", layers[index].parameters)
        if let trace = sensitivity.hessian?.layers[index] {
            try put("trace", trace.trace)
            try put("trace_se", trace.standardError)
            try put("trace_per_param", trace.tracePerParameter)
            try put("omega", BitWidthMap(trace.omega))
        }
        if let eigen = sensitivity.eigenvalues?[index] {
            try put("eigenvalue", eigen.eigenvalue)
            try put("eigen_iterations", eigen.iterations)
            try put("eigen_converged", eigen.converged)
        }
        if let accuracy = sensitivity.accuracy?[index] {
            for (bits, value) in accuracy.accuracy { try put("accuracy_\(bits)bit", value) }
            for (bits, value) in accuracy.drop { try put("drop_\(bits)bit", value) }
        }
        if let a = sensitivity.activations?[index] {
            try put("activations", Activations(
                count: a.count, min: a.minimum, max: a.maximum, mean: a.mean, std: a.standardDeviation, skew: a.skewness,
                asymmetry: a.asymmetry.isFinite ? a.asymmetry : nil, negativeFraction: a.negativeFraction,
                histogram: a.histogram, histogramEdges: [a.binEdge(0), a.binEdge(ActivationStatistics.bins)],
                mseSymmetric: BitWidthMap(a.symmetricMSE), mseAsymmetric: BitWidthMap(a.asymmetricMSE)))
        }
        if let o = sensitivity.outliers?[index] {
            try put("outliers", Outliers(
                centers: o.clusters.map(\.center), boundaries: [o.lowerBoundary, o.upperBoundary],
                counts: o.clusters.map(\.count), ranges: o.clusters.map { [$0.minimum, $0.maximum] },
                iqrOutliers: o.iqrOutliers, iqrFences: [o.iqrFences.lowerBound, o.iqrFences.upperBound],
                sigmaOutliers: o.sigmaOutliers, sigmaK: OutlierClusters.sigmaMultiple, mean: o.mean, std: o.standardDeviation))
        }
    }

    /// Statistics of a layer's input activations.
    private struct Activations: Encodable {
        var count: Int
        var min, max, mean, std, skew: Double
        /// |min| / max; nil (null) when infinite (max = 0).
        var asymmetry: Double?
        var negativeFraction: Double
        var histogram: [Int]
        var histogramEdges: [Double]
        var mseSymmetric, mseAsymmetric: BitWidthMap

        private enum CodingKeys: String, CodingKey {
            case count, min, max, mean, std, skew, asymmetry, negativeFraction = "negative_fraction", histogram
            case histogramEdges = "histogram_edges", mseSymmetric = "mse_symmetric", mseAsymmetric = "mse_asymmetric"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(count, forKey: .count)
            try container.encode(min, forKey: .min)
            try container.encode(max, forKey: .max)
            try container.encode(mean, forKey: .mean)
            try container.encode(std, forKey: .std)
            try container.encode(skew, forKey: .skew)
            try container.encode(asymmetry, forKey: .asymmetry)  // null, not left out
            try container.encode(negativeFraction, forKey: .negativeFraction)
            try container.encode(histogram, forKey: .histogram)
            try container.encode(histogramEdges, forKey: .histogramEdges)
            try container.encode(mseSymmetric, forKey: .mseSymmetric)
            try container.encode(mseAsymmetric, forKey: .mseAsymmetric)
        }
    }

    /// A layer's weight clusters and outlier counts.
    private struct Outliers: Encodable {
        var centers: [Double]
        var boundaries: [Double]
        var counts: [Int]
        var ranges: [[Double]]
        var iqrOutliers: Int
        var iqrFences: [Double]
        var sigmaOutliers: Int
        var sigmaK: Double
        var mean, std: Double

        private enum CodingKeys: String, CodingKey {
            case centers, boundaries, counts, ranges, iqrOutliers = "iqr_outliers", iqrFences = "iqr_fences"
            case sigmaOutliers = "sigma_outliers", sigmaK = "sigma_k", mean, std
        }
    }

    /// Values keyed by bit-width: {"4": 0.12, ...}, null for a non-finite value.
    private struct BitWidthMap: Encodable {
        var values: [Int: Double]
        init(_ values: [Int: Double]) { self.values = values }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: DynamicCodingKey.self)
            for (bits, value) in values {
                if value.isFinite {
                    try container.encode(value, forKey: DynamicCodingKey(String(bits)))
                } else {
                    try container.encodeNil(forKey: DynamicCodingKey(String(bits)))
                }
            }
        }
    }

    static func lossNote(_ kind: String, samples: Int) -> String {
        switch kind {
        case "cross-entropy": return "mean cross-entropy over \(samples) labelled samples"
        case "mse-to-fp32": return "mean squared error to the FP32 outputs over \(samples) samples (no labels score this output)"
        default: return "KL divergence of the last-axis softmax to the FP32 outputs over \(samples) samples (no labels score this output)"
        }
    }

    // MARK: - Text

    var lines: [String] {
        var lines = ["model   \(model)", "data    \(data)"]
        let seconds = SensitivityPart.allCases.compactMap { part in sensitivity.partSeconds[part].map { "\(part.rawValue) \(fixed($0, 2)) s" } }
        lines.append("time    \(fixed(sensitivity.seconds, 2)) s  (\(seconds.joined(separator: ", ")))")
        if let hessian = sensitivity.hessian { lines += [""] + hessianLines(hessian) }
        if let eigen = sensitivity.eigenvalues { lines += [""] + eigenLines(eigen) }
        if let accuracy = sensitivity.accuracy, let first = accuracy.first { lines += [""] + accuracyLines(accuracy, reference: first) }
        if let activations = sensitivity.activations { lines += [""] + activationLines(activations) }
        if let outliers = sensitivity.outliers { lines += [""] + outlierLines(outliers) }
        if sensitivity.cancelled { lines += ["", "(cancelled: partial results)"] }
        return lines
    }

    /// A table whose first column is the layer name (as wide as the longest name of the model, at
    /// least "layer", in every part) and whose other columns have fixed widths and no gaps (the
    /// widths hold the spacing).
    private func layerTable(_ columns: [(String, Int)]) -> ReportTable {
        let nameWidth = max(5, layers.map(\.name.unicodeScalars.count).max() ?? 5)
        return ReportTable(columns: [.init("layer", width: .fixed(nameWidth))]
            + columns.map { ReportTable.Column($0.0, .right, width: .fixed($0.1), gap: 0) })
    }

    private func hessianLines(_ hessian: HessianReport) -> [String] {
        var table = layerTable([("params", 9), ("trace", 12), ("± se", 11), ("trace/param", 13),
                                ("Ω2", 11), ("Ω3", 11), ("Ω4", 11), ("Ω8", 11)])
        for layer in hessian.layers {
            table.append([layer.name, String(layer.parameters), sci(layer.trace), sci(layer.standardError), sci(layer.tracePerParameter)]
                         + [2, 3, 4, 8].map { sci(layer.omega[$0] ?? .nan) })
        }
        var lines = ["Hessian traces (Hutchinson): \(hessian.probes) probes; loss \(fixed(hessian.loss, 5)), \(Self.lossNote(hessian.lossKind, samples: hessian.samples))"]
        lines += table.render()
        let negative = hessian.layers.filter { $0.trace < 0 }.map(\.name)
        if !negative.isEmpty {
            lines.append("note: negative trace (a non-convex direction at these weights, or noise) for \(negative.joined(separator: ", ")); "
                         + "their Ω is negative too: treat them as insensitive rather than ranking them below zero")
        }
        return lines
    }

    private func eigenLines(_ eigen: [LayerEigenvalue]) -> [String] {
        var table = layerTable([("eigenvalue", 12), ("λ/param", 12), ("steps", 7)])
        for e in eigen {
            table.append([e.name, sci(e.eigenvalue), sci(e.eigenvaluePerParameter), String(e.iterations) + (e.converged ? "" : "*")])
        }
        var lines = ["Top Hessian eigenvalue per layer block (power iteration, \(hessianSamples) samples, tolerance 1e-3, at most 100 steps)"]
        lines += table.render()
        if eigen.contains(where: { !$0.converged }) { lines.append("* not converged within the step cap") }
        return lines
    }

    private func accuracyLines(_ accuracy: [LayerAccuracy], reference: LayerAccuracy) -> [String] {
        let metric = unlabelled ? "top-1 agreement with FP32" : "top-1 accuracy"
        let bits = reference.accuracy.keys.sorted()
        var table = layerTable(bits.flatMap { [("int\($0) %", 10), ("Δ pp", 8)] })
        for a in accuracy {
            table.append([a.name] + bits.flatMap { b in
                [fixed(100 * (a.accuracy[b] ?? .nan), 2), fixed(-100 * (a.drop[b] ?? .nan), 2)]
            })
        }
        return ["Only this layer quantized (intB, per channel): \(metric) on \(sensitivity.evaluationSamples) samples; FP32 \(fixed(100 * reference.referenceAccuracy, 2)) %"]
            + table.render()
    }

    private func activationLines(_ activations: [ActivationStatistics]) -> [String] {
        var table = layerTable([("min", 10), ("max", 10), ("mean", 10), ("std", 10), ("skew", 9), ("|min|/max", 10), ("neg %", 7),
                                ("sym8", 11), ("asym8", 11), ("sym4", 11), ("asym4", 11)])
        for a in activations {
            table.append([a.name, general(a.minimum), general(a.maximum), general(a.mean), general(a.standardDeviation),
                          fixed(a.skewness, 2), general(a.asymmetry), fixed(100 * a.negativeFraction, 1),
                          sci(a.symmetricMSE[8] ?? .nan), sci(a.asymmetricMSE[8] ?? .nan),
                          sci(a.symmetricMSE[4] ?? .nan), sci(a.asymmetricMSE[4] ?? .nan)])
        }
        return ["Input activations on \(sensitivity.calibrationSamples) calibration samples (MSE of per-tensor grids over [min, max])"]
            + table.render()
    }

    private func outlierLines(_ outliers: [OutlierClusters]) -> [String] {
        var table = layerTable([("centres", 30), ("boundaries", 22), ("counts", 22), ("IQR", 7), ("3σ", 7)])
        for o in outliers {
            table.append([o.name, o.clusters.map { general($0.center) }.joined(separator: " "),
                          general(o.lowerBoundary) + " " + general(o.upperBoundary),
                          o.clusters.map { String($0.count) }.joined(separator: "/"),
                          String(o.iqrOutliers), String(o.sigmaOutliers)])
        }
        return ["Weight clusters (optimal 1-D k-means, k = 3; counts lower/middle/upper) and outliers (1.5·IQR, 3σ)"]
            + table.render()
    }

    /// "1.234e-05"; NaN as "nan" and -∞ as "nan" too, as these listings always printed them.
    private func sci(_ value: Double) -> String {
        value.isFinite ? NumberFormat.scientific(value, digits: 3) : (value > 0 ? "inf" : "nan")
    }

    /// Four significant digits ("0.1235", "1.2e+04"); non-finite as `sci`.
    private func general(_ value: Double) -> String {
        value.isFinite ? NumberFormat.significant(value, digits: 4) : (value > 0 ? "inf" : "nan")
    }
}
