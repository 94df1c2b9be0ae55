import Analysis

/// `qscope export`: what was written where.
struct ExportReport: CommandReport {
    var model: String
    var plan: String
    var format: String
    var output: String
    var bytes: Int
    var warnings: [String]
    var notes: [String]
    /// AIMET encodings only: the version written.
    var aimetVersion: String?
    /// ONNX exports: the opset and IR version written, and the model's own opset.
    var opset: Int?
    var irVersion: Int?
    var originalOpset: Int?
    /// Plans with activation specs: the samples their scales were calibrated on.
    var calibrationSamples: Int?

    private enum CodingKeys: String, CodingKey {
        case model, plan, format, output, bytes, warnings, notes, aimetVersion = "aimet_version", opset
        case irVersion = "ir_version", originalOpset = "original_opset", calibrationSamples = "calibration_samples"
    }

    var lines: [String] {
        var lines = ["wrote     \(output)  (\(format), \(bytes) bytes)"]
        if let opset, let irVersion {
            lines.append("onnx      opset \(opset), IR version \(irVersion)" + (originalOpset.map { $0 != opset ? " (the model had opset \($0))" : "" } ?? ""))
        }
        if let calibrationSamples { lines.append("calib     activation scales from \(calibrationSamples) samples") }
        lines += notes.map { "note      \($0)" }
        return lines
    }
}
