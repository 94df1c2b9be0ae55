import Analysis
import ArgumentParser
import Executor
import Foundation

extension Exporter.Format: ExpressibleByArgument {}
extension AIMETEncodings.Version: ExpressibleByArgument {}

/// `qscope export MODEL --plan P --format onnx-qdq|aimet|ort-overrides|plan -o OUT`.
struct ExportCommand: ParsableCommand {
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

    @Option(name: .long, help: "Calibrate activation ranges on the first N samples (plans with activation specs).")
    var calib: Int = 512

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        if calib < 1 { throw ValidationError("--calib must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let path = try options.modelPath()
            let model = try Model.load(path: path)
            let plan = try PlanFile.load(path: self.plan, layerNames: model.layers.map(\.name))
            // Fail on an unwritable destination before calibrating.
            let directory = (output as NSString).deletingLastPathComponent
            var isDirectory: ObjCBool = false
            if !directory.isEmpty, !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) || !isDirectory.boolValue {
                throw QScopeError(file: output, "cannot write: the directory '\(directory)' does not exist")
            }
            var calibration: Dataset?
            if format != .plan, plan.choices.contains(where: { $0.activations != nil }) {
                let (_, dataset) = try options.load()
                calibration = dataset.prefix(calib)
            }
            let report = try Exporter.export(model: model, plan: plan, format: format, to: output, calibration: calibration,
                                             aimetVersion: aimetVersion)
            for warning in report.warnings { FileHandle.standardError.write(Data("qscope: warning: \(warning)\n".utf8)) }
            if json {
                var object: [String: Any] = ["model": path, "plan": self.plan, "format": format.rawValue, "output": output,
                                             "bytes": report.bytes, "warnings": report.warnings, "notes": report.notes]
                if format == .aimet { object["aimet_version"] = aimetVersion.rawValue }
                if let opset = report.opset { object["opset"] = opset }
                if let ir = report.irVersion { object["ir_version"] = ir }
                if let original = report.originalOpset { object["original_opset"] = original }
                if let samples = calibration?.count { object["calibration_samples"] = samples }
                try printJSON(object)
                return
            }
            print("wrote     \(output)  (\(format.rawValue), \(report.bytes) bytes)")
            if let opset = report.opset, let ir = report.irVersion {
                print("onnx      opset \(opset), IR version \(ir)" + (report.originalOpset.map { $0 != opset ? " (the model had opset \($0))" : "" } ?? ""))
            }
            if let samples = calibration?.count { print("calib     activation scales from \(samples) samples") }
            for note in report.notes { print("note      \(note)") }
        }
    }
}
