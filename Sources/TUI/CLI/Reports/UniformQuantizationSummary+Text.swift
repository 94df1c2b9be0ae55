import Analysis

extension UniformQuantizationSummary {
    /// The lines `qscope eval` prints about the quantizers: weights, activations, smoothing, lut.
    var lines: [String] {
        var lines: [String] = []
        if let weights {
            lines.append("weights   \(weights.spec)  on \(weights.layers) layers: \(fixed(weights.bitsPerWeight, 3)) bits/weight with metadata, "
                + "\(fixed(weights.sizeMB, 4)) MB (codes only \(fixed(weights.payloadMB, 4)) MB), "
                + "SQNR \(weights.sqnrDB.map { fixed($0, 2) } ?? "inf") dB" + (weights.ofSmoothedWeights ? " (of the smoothed weights W·s)" : ""))
        }
        if let activations, let calibrationSamples {
            lines.append("acts      \(activations)  at \(calibratedInputs ?? 0) layer inputs, calibrated on \(calibrationSamples) samples")
        }
        if let smoothing {
            let notSmoothed = Dictionary(grouping: smoothing.skipped, by: \.reason).sorted { $0.key < $1.key }.map { reason, layers in
                "; not smoothed (\(reason)): " + layers.map(\.layer).joined(separator: ", ")
            }
            lines.append("smooth    \(smoothing.method) on \(smoothing.layers.count) Gemm/MatMul layers"
                + (smoothing.deadChannels > 0 ? " (\(smoothing.deadChannels) dead channels left unscaled)" : "")
                + notSmoothed.joined())
        }
        if let line = lut?.line { lines.append(line) }
        return lines
    }
}

extension UniformQuantizationSummary.LutWeighting {
    /// The text line about the weighting (nil for `--plain-lut`: the user asked for it).
    var line: String? {
        switch self {
        case .fisher(let samples, let loss, let seconds):
            "lut       k-means weighted by the Fisher diagonal (\(loss), \(samples) samples, \(fixed(seconds, 2)) s)"
        case .plainForSmoothedWeights:
            "lut       plain k-means: the Fisher weighting is not computed for smoothed weights"
        case .plainWithoutGradients(let reason):
            "lut       plain k-means: no gradients for the Fisher weighting (\(reason))"
        case .plainAsked:
            nil
        }
    }
}
