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
/// `layers` is keyed by layer name; a layer that is not listed keeps FP32. Each entry has
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

    /// Reads a plan for a model whose layers are `layerNames`.
    public static func load(path: String, layerNames: [String]) throws -> Plan {
        guard FileManager.default.fileExists(atPath: path) else { throw QScopeError(file: path, "no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw QScopeError(file: path, "cannot read the file") }
        return try decode(data, file: path, layerNames: layerNames)
    }

    /// Parses plan JSON; `file` names the source in errors.
    public static func decode(_ data: Data, file: String, layerNames: [String]) throws -> Plan {
        func fail(_ message: String) -> QScopeError { QScopeError(file: file, message) }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw fail("is not valid JSON")
        }
        guard let root = object as? [String: Any] else { throw fail("is not a JSON object") }
        guard root["format"] as? String == format else { throw fail("is not a qscope plan (\"format\" must be \"\(format)\")") }
        guard let fileVersion = root["version"] as? Int else {
            throw fail("has no integer \"version\"")
        }
        guard fileVersion == version else {
            throw fail("plan version \(fileVersion) is not supported (this qscope reads version \(version))")
        }
        guard let layers = root["layers"] as? [String: Any] else { throw fail("has no \"layers\" object") }
        var plan = Plan(layerNames: layerNames)
        // Report problems in a stable order (JSON objects are unordered).
        for name in layers.keys.sorted() {
            guard let index = plan.index(of: name) else {
                let hint = layerNames.count <= 3 ? layerNames.joined(separator: ", ") : "\(layerNames.count) layers, e.g. \(layerNames[0])"
                throw fail("unknown layer '\(name)' (the model has \(hint))")
            }
            guard let entry = layers[name] as? [String: Any] else { throw fail("layer '\(name)': expected an object") }
            for key in entry.keys where !["weights", "activations", "split"].contains(key) {
                throw fail("layer '\(name)': unknown field '\(key)' (expected weights, activations, split)")
            }
            var choice = LayerChoice()
            if let value = entry["weights"] {
                choice.weights = try spec(value, field: "weights", layer: name, fail)
            }
            if let value = entry["activations"] {
                choice.activations = try spec(value, field: "activations", layer: name, fail)
            }
            if let value = entry["split"] {
                guard let parts = value as? Int, parts >= 2 else {
                    throw fail("layer '\(name)': split must be an integer of at least 2")
                }
                choice.split = parts
            }
            plan.choices[index] = choice
        }
        return plan
    }

    private static func spec(_ value: Any, field: String, layer: String,
                             _ fail: (String) -> QScopeError) throws -> QuantizerSpec? {
        guard let text = value as? String else { throw fail("layer '\(layer)': \(field) must be a string such as \"int8\"") }
        if text == "float" || text == "fp32" { return nil }
        do {
            return try QuantizerSpec(parsing: text)
        } catch let error as QScopeError {
            throw fail("layer '\(layer)': \(error.message)")
        }
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
