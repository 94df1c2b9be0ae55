import Analysis
import ArgumentParser
import Executor
import Foundation

extension Exporter.Format: ExpressibleByArgument {}
extension AIMETEncodings.Version: ExpressibleByArgument {}

/// `qscope export MODEL --plan P --format onnx-qdq|aimet|ort-overrides|plan -o OUT`.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a plan as an ONNX QDQ model, AIMET encodings, ONNX Runtime TensorQuantOverrides or a qscope plan file.",
        discussion: """
            onnx-qdq: the model with integer (or FP8) weights behind DequantizeLinear and QuantizeLinear/DequantizeLinear \
            on quantized activations; grids with no ONNX container are baked into float weights (a warning names them). \
            Activation scales are calibrated on the first --calib samples of the evaluation data, as eval --plan does.
            """
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "The plan to export (*.qscope.json).")
    var plan: String

    @Option(name: .long, help: "onnx-qdq, aimet, ort-overrides or plan.")
    var format: Exporter.Format

    @Option(name: [.short, .customLong("output")], help: "The file to write (written atomically).")
    var output: String

    @Option(name: .customLong("aimet-version"), help: "AIMET encodings version: 1.0.0 or 0.6.1.")
    var aimetVersion: AIMETEncodings.Version = .v1_0_0

    @OptionGroup var calibration: CalibrationOptions

    @OptionGroup var report: OutputOptions

    func run() async throws {
        try reportingErrors {
            try report.print(try export())
        }
    }

    private func export() throws -> ExportReport {
        let path = try options.modelPath(planPath: self.plan)
        let model = try Model.load(path: path)
        let loaded = try PlanFile.load(path: self.plan, layerNames: model.layers.map(\.name), modelPath: path)
        if let warning = loaded.warning { writeToStandardError("qscope: warning: \(warning)") }
        let plan = loaded.plan
        // Fail on an unwritable destination before calibrating.
        let directory = (output as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
            throw QScopeError(file: output, "cannot write: the directory '\(directory)' does not exist")
        }
        var calibrationData: Dataset?
        if format != .plan, plan.choices.contains(where: { $0.activations != nil }) {
            let (_, dataset) = try options.load(planPath: self.plan)
            calibrationData = dataset.prefix(calibration.samples)
        }
        let written = try Exporter.export(model: model, plan: plan, format: format, to: output, calibration: calibrationData,
                                          aimetVersion: aimetVersion)
        for warning in written.warnings { writeToStandardError("qscope: warning: \(warning)") }
        return ExportReport(model: path, plan: self.plan, format: format.rawValue, output: output, bytes: written.bytes,
                            warnings: written.warnings, notes: written.notes,
                            aimetVersion: format == .aimet ? aimetVersion.rawValue : nil, opset: written.opset,
                            irVersion: written.irVersion, originalOpset: written.originalOpset,
                            calibrationSamples: calibrationData?.count)
    }
}
