import Executor
/// The export formats and the one path that writes them (`qscope export`; the workbench's dialog
/// will call the same function): the content is produced in memory, then written atomically, so a
/// failure leaves neither a partial file nor a temporary one.
public enum Exporter {
    public enum Format: String, Sendable, CaseIterable {
        case onnxQDQ = "onnx-qdq"
        case aimet
        case ortOverrides = "ort-overrides"
        case plan
    }

    /// What was written.
    public struct Report: Sendable {
        public var format: Format
        public var path: String
        public var bytes: Int
        /// ONNX only: the opset and IR version written, and the file's opset.
        public var opset: Int?
        public var irVersion: Int?
        public var originalOpset: Int?
        /// Warnings (baked layers, formats that cannot hold a layer's grid) and notes on changes.
        public var warnings: [String]
        public var notes: [String]
    }

    /// Exports `plan` of `model` in `format` to `path`. `calibration` is needed only for plans with
    /// activation specs (onnx-qdq, aimet, ort-overrides); the plan format writes the plan as it is.
    public static func export(model: Model, plan: Plan, format: Format, to path: String, calibration: Dataset?,
                              aimetVersion: AIMETEncodings.Version = .v1_0_0) throws -> Report {
        if format == .plan {
            let provenance = PlanProvenance.recording(planPath: path, modelPath: model.path, dataPath: nil)
            let bytes = Array(PlanFile.encode(plan, provenance: provenance).utf8)
            try AtomicFileWriter.write(bytes, to: path)
            return Report(format: format, path: path, bytes: bytes.count, warnings: [], notes: [])
        }
        let input = try ExportInput(model: model, plan: plan, calibration: calibration)
        var warnings: [String] = []
        var report = Report(format: format, path: path, bytes: 0, warnings: [], notes: [])
        let bytes: [UInt8]
        switch format {
        case .onnxQDQ:
            let baked = input.bakedLayers
            if !baked.isEmpty {
                warnings.append("baked into float weights (no standard ONNX container): "
                    + baked.map { "\($0.name) (\($0.reason))" }.joined(separator: ", "))
            }
            let output = try QDQExporter.export(input)
            bytes = output.bytes
            report.opset = output.opset
            report.irVersion = output.irVersion
            report.originalOpset = output.originalOpset
            report.notes = output.notes
        case .aimet:
            let output = try AIMETEncodings.export(input, version: aimetVersion)
            bytes = output.bytes
            warnings += output.notes
        case .ortOverrides:
            let output = try ORTOverrides.export(input)
            bytes = output.bytes
            warnings += output.notes
        case .plan:
            bytes = []
        }
        try AtomicFileWriter.write(bytes, to: path)
        report.bytes = bytes.count
        report.warnings = warnings
        return report
    }
}
