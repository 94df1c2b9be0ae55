import Executor
import Foundation

/// Reads and writes plans as `*.qscope.json`, meant to be edited by hand:
///
///     {
///       "format": "qscope-plan",
///       "version": 1,
///       "model": "sample-models/cnn.onnx",
///       "layers": {
///         "/stem/stem.0/Conv": { "weights": "int8" },
///         "/fc/Gemm": { "weights": "float" }
///       }
///     }
///
/// `layers` is keyed by layer name; a layer that is not listed keeps FP32, or, given the model's
/// starting plan (`Plan(startingFrom:)`), its stored format in an already-quantized model. Each entry has
/// `weights` (a quantizer spec such as `int4`, `int8:asym`, `fp4:e2m1:block=32`, or `float`), and
/// optionally `activations` and `split` (written only when set). `model` is informative only.
/// Loading checks the format tag, the version, every layer name and every spec; any problem is one
/// `QScopeError` naming the file.
public enum PlanFile {
    public static let format = "qscope-plan"
    public static let version = 1

    /// The default plan path for a model: `<model without .onnx>.qscope.json` next to it.
    public static func defaultPath(forModel modelPath: String) -> String {
        let base = modelPath.hasSuffix(".onnx") ? String(modelPath.dropLast(5)) : modelPath
        return base + ".qscope.json"
    }

    /// The JSON text of `plan`: layers in model order, two-space indentation, a final newline.
    public static func encode(_ plan: Plan, modelPath: String?) -> String {
        var lines = ["{", "  \"format\": \(quote(format)),", "  \"version\": \(version),"]
        if let modelPath { lines.append("  \"model\": \(quote(modelPath)),") }
        lines.append("  \"layers\": {")
        for (i, (name, choice)) in zip(plan.layerNames, plan.choices).enumerated() {
            var fields = ["\"weights\": \(quote(choice.weights?.description ?? "float"))"]
            if let activations = choice.activations { fields.append("\"activations\": \(quote(activations.description))") }
            if let split = choice.split { fields.append("\"split\": \(split)") }
            let comma = i + 1 < plan.count ? "," : ""
            lines.append("    \(quote(name)): { \(fields.joined(separator: ", ")) }\(comma)")
        }
        lines.append("  }")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `plan` to `path` atomically (temporary file in the same folder, then rename).
    public static func save(_ plan: Plan, modelPath: String?, to path: String) throws {
        try AtomicFileWriter.write(Array(encode(plan, modelPath: modelPath).utf8), to: path)
    }

    /// Reads a plan for a model whose layers are `layerNames`; layers the file does not list keep
    /// their choice in `base` (same layer names), FP32 without one.
    public static func load(path: String, layerNames: [String], base: Plan? = nil) throws -> Plan {
        guard FileManager.default.fileExists(atPath: path) else { throw QScopeError(file: path, "no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw QScopeError(file: path, "cannot read the file") }
        return try decode(data, file: path, layerNames: layerNames, base: base)
    }

    /// Parses plan JSON; `file` names the source in errors.
    ///
    /// Problems are reported in a fixed order: the document (JSON, object, format, version, layers),
    /// then the layers sorted by name, each first checked against `layerNames` and then for its
    /// entry's fields, so the same file always gives the same one-line error.
    public static func decode(_ data: Data, file: String, layerNames: [String], base: Plan? = nil) throws -> Plan {
        let document: PlanFileDocument
        do {
            document = try JSONDecoder().decode(PlanFileDocument.self, from: data)
        } catch let problem as PlanFileProblem {
            throw QScopeError(file: file, problem.message)
        } catch {
            // Every structural check throws a `PlanFileProblem`, so what remains is the parser's.
            throw QScopeError(file: file, "is not valid JSON")
        }
        var plan = base.flatMap { $0.layerNames == layerNames ? $0 : nil } ?? Plan(layerNames: layerNames)
        for (name, entry) in document.layers.sorted(by: { $0.key < $1.key }) {
            guard let index = plan.index(of: name) else {
                let hint = layerNames.count <= 3 ? layerNames.joined(separator: ", ") : "\(layerNames.count) layers, e.g. \(layerNames[0])"
                throw QScopeError(file: file, "unknown layer '\(name)' (the model has \(hint))")
            }
            switch entry.choice {
            case .success(let choice): plan.choices[index] = choice
            case .failure(let problem): throw QScopeError(file: file, "layer '\(name)': \(problem.message)")
            }
        }
        return plan
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
