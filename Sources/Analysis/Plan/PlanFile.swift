import Executor
import Foundation

/// Reads and writes plans as `*.qscope.json`, meant to be edited by hand:
///
///     {
///       "format": "qscope-plan",
///       "version": 1,
///       "model": "cnn.onnx",
///       "model_sha256": "9f2c…",
///       "data": "fashion-mnist-test.npz",
///       "data_sha256": "41d0…",
///       "qscope_version": "0.3.0",
///       "created": "2026-12-07T23:10:45Z",
///       "layers": {
///         "/stem/stem.0/Conv": { "weights": "int8" },
///         "/fc/Gemm": { "weights": "float" }
///       }
///     }
///
/// `layers` is keyed by layer name; a layer that is not listed keeps FP32, or, given the model's
/// starting plan (`Plan(startingFrom:)`), its stored format in an already-quantized model. Each entry has
/// `weights` (a quantizer spec such as `int4`, `int8:asym`, `fp4:e2m1:block=32`, or `float`), and
/// optionally `activations` and `split` (written only when set). The other fields are the plan's
/// `PlanProvenance`: `model` and `data` relative to the plan file's folder, so that `--plan` alone
/// reopens them from any working directory, and their hashes, so that opening the plan with another
/// model warns. Loading checks the format tag, the version and every spec; any problem is one
/// `QScopeError` naming the file. Layers the model does not have are reported by `load`: a warning
/// naming them, or an error when none of the plan's layers is in the model.
public enum PlanFile {
    public static let format = "qscope-plan"
    public static let version = 1

    /// The default plan path for a model: `<model without .onnx>.qscope.json` next to it.
    public static func defaultPath(forModel modelPath: String) -> String {
        let base = modelPath.hasSuffix(".onnx") ? String(modelPath.dropLast(5)) : modelPath
        return base + ".qscope.json"
    }

    /// The JSON text of `plan`: provenance fields that are known, layers in model order, two-space
    /// indentation, a final newline.
    public static func encode(_ plan: Plan, provenance: PlanProvenance) -> String {
        var lines = ["{", "  \"format\": \(quote(format)),", "  \"version\": \(version),"]
        let fields: [(String, String?)] = [
            ("model", provenance.modelPath), ("model_sha256", provenance.modelSHA256), ("data", provenance.dataPath),
            ("data_sha256", provenance.dataSHA256), ("qscope_version", provenance.qscopeVersion), ("created", provenance.created),
        ]
        for case let (key, value?) in fields { lines.append("  \(quote(key)): \(quote(value)),") }
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

    /// Writes `plan` to `path` atomically (temporary file in the same folder, then rename), with the
    /// provenance of the model and data files it was made for (`PlanProvenance.recording`).
    public static func save(_ plan: Plan, modelPath: String?, dataPath: String? = nil, to path: String) throws {
        let provenance = PlanProvenance.recording(planPath: path, modelPath: modelPath, dataPath: dataPath)
        try AtomicFileWriter.write(Array(encode(plan, provenance: provenance).utf8), to: path)
    }

    /// A plan read for a model, with what did not match it.
    public struct Loaded: Sendable {
        public var plan: Plan
        /// Layers named in the file that the model does not have, sorted (their entries are ignored).
        public var unknownLayers: [String]
        /// One line for the user when the plan does not quite fit the model, else nil.
        public var warning: String?
    }

    /// Reads a plan for `model`'s layers, resolving the file's provenance against its folder.
    ///
    /// - Throws: one `QScopeError` naming the file for a missing or malformed file, a bad entry, or
    ///   when none of the plan's layers is in the model.
    /// - Returns: the plan (unknown layers skipped) and a warning naming the unknown layers and a
    ///   model whose SHA-256 differs from the one the plan records.
    /// Layers the file does not list keep their choice in `base` (same layer names), FP32 without one.
    public static func load(path: String, layerNames: [String], modelPath: String? = nil, base: Plan? = nil) throws -> Loaded {
        let document = try document(try read(path), file: path)
        let (plan, unknown) = try layers(of: document, file: path, layerNames: layerNames, base: base)
        var problems: [String] = []
        if !unknown.isEmpty {
            let shown = unknown.prefix(3).map { "'\(QScopeError.printable($0))'" }.joined(separator: ", ")
            problems.append("\(unknown.count) of its layers are not in the model (\(shown)\(unknown.count > 3 ? ", ..." : "")); they stay FP32")
        }
        if let modelPath, let recorded = document.provenance.modelSHA256,
           let actual = SHA256.hexDigest(ofFile: modelPath), actual != recorded {
            problems.append("it was saved for a model with SHA-256 \(recorded.prefix(12))…, not \(QScopeError.printable(modelPath)) (\(actual.prefix(12))…)")
        }
        let warning = problems.isEmpty ? nil : "plan \(QScopeError.printable(path)): " + problems.joined(separator: "; ")
        return Loaded(plan: plan, unknownLayers: unknown, warning: warning)
    }

    /// The provenance recorded in the plan at `path`, its paths resolved for the working directory
    /// (`PlanProvenance.resolved(forPlanAt:)`).
    public static func provenance(path: String) throws -> PlanProvenance {
        try document(try read(path), file: path).provenance.resolved(forPlanAt: path)
    }

    private static func read(_ path: String) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw QScopeError(file: path, "no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw QScopeError(file: path, "cannot read the file") }
        return data
    }

    /// The document, or the one-line error naming `file`.
    private static func document(_ data: Data, file: String) throws -> PlanFileDocument {
        do {
            return try JSONDecoder().decode(PlanFileDocument.self, from: data)
        } catch let problem as PlanFileProblem {
            throw QScopeError(file: file, problem.message)
        } catch {
            // Every structural check throws a `PlanFileProblem`, so what remains is the parser's.
            throw QScopeError(file: file, "is not valid JSON")
        }
    }

    /// Parses plan JSON strictly: a layer the model does not have is an error too. `file` names the
    /// source in errors.
    ///
    /// Problems are reported in a fixed order: the document (JSON, object, format, version, layers),
    /// then the layers sorted by name, each first checked against `layerNames` and then for its
    /// entry's fields, so the same file always gives the same one-line error.
    public static func decode(_ data: Data, file: String, layerNames: [String], base: Plan? = nil) throws -> Plan {
        let (plan, unknown) = try layers(of: try document(data, file: file), file: file, layerNames: layerNames, base: base,
                                         strict: true)
        precondition(unknown.isEmpty, "strict decoding throws on unknown layers")
        return plan
    }

    /// The plan a document's layers give, skipping layers the model does not have (returned, sorted)
    /// unless `strict`; an error when none of the file's layers is in the model.
    private static func layers(of document: PlanFileDocument, file: String, layerNames: [String], base: Plan?,
                               strict: Bool = false) throws -> (Plan, [String]) {
        var plan = base.flatMap { $0.layerNames == layerNames ? $0 : nil } ?? Plan(layerNames: layerNames)
        var unknown: [String] = []
        let hint = layerNames.count <= 3 ? layerNames.joined(separator: ", ") : "\(layerNames.count) layers, e.g. \(layerNames.first ?? "")"
        for (name, entry) in document.layers.sorted(by: { $0.key < $1.key }) {
            guard let index = plan.index(of: name) else {
                if strict { throw QScopeError(file: file, "unknown layer '\(QScopeError.printable(name))' (the model has \(hint))") }
                unknown.append(name)
                continue
            }
            switch entry.choice {
            case .success(let choice): plan.choices[index] = choice
            case .failure(let problem): throw QScopeError(file: file, "layer '\(QScopeError.printable(name))': \(problem.message)")
            }
        }
        if !unknown.isEmpty, unknown.count == document.layers.count {
            let example = QScopeError.printable(unknown[0])
            let madeFor = document.provenance.modelPath.map { " (it was made for \(QScopeError.printable($0)))" } ?? ""
            let subject = unknown.count == 1 ? "the plan's one layer is not" : "none of the plan's \(unknown.count) layers is"
            throw QScopeError(file: file, "\(subject) in the model\(madeFor): the plan has '\(example)', the model has \(hint)")
        }
        return (plan, unknown)
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
