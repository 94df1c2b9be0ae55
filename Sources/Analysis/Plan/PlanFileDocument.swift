import Executor
import Foundation

/// What went wrong in a plan file, as the one line `PlanFile.decode` reports after the file name.
struct PlanFileProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// The plan file's JSON as `PlanFile` describes it, decoded strictly: every check throws a
/// `PlanFileProblem` saying in words what is wrong, instead of the decoder's coding-path errors.
///
/// The provenance fields (`model`, `model_sha256`, `data`, `data_sha256`, `qscope_version`,
/// `created`) are read when they are strings; other top-level keys are ignored. Layer names are not
/// checked here, since the document does not know the model; see `PlanFile.decode`.
struct PlanFileDocument: Decodable {
    var format: String
    var version: Int
    /// Layer name to entry, as in the file.
    var layers: [String: PlanFileLayerEntry]
    /// As recorded (paths relative to the plan's folder, not yet resolved).
    var provenance: PlanProvenance

    private enum CodingKeys: String, CodingKey {
        case format, version, layers
        case model, modelSHA256 = "model_sha256", data, dataSHA256 = "data_sha256", qscopeVersion = "qscope_version", created
    }

    init(from decoder: any Decoder) throws {
        // A JSON array, string or number at the top.
        guard let root = try? decoder.container(keyedBy: CodingKeys.self) else {
            throw PlanFileProblem("is not a JSON object")
        }
        guard let format = try? root.decode(String.self, forKey: .format), format == PlanFile.format else {
            throw PlanFileProblem("is not a qscope plan (\"format\" must be \"\(PlanFile.format)\")")
        }
        guard let version = try? root.decode(Int.self, forKey: .version) else {
            throw PlanFileProblem("has no integer \"version\"")
        }
        guard version == PlanFile.version else {
            throw PlanFileProblem("plan version \(version) is not supported (this qscope reads version \(PlanFile.version))")
        }
        // Entries never fail to decode (see `PlanFileLayerEntry`), so a failure here is the object itself.
        guard let layers = try? root.decode([String: PlanFileLayerEntry].self, forKey: .layers) else {
            throw PlanFileProblem("has no \"layers\" object")
        }
        self.format = format
        self.version = version
        self.layers = layers
        func text(_ key: CodingKeys) -> String? { try? root.decode(String.self, forKey: key) }
        provenance = PlanProvenance(modelPath: text(.model), modelSHA256: text(.modelSHA256), dataPath: text(.data),
                                    dataSHA256: text(.dataSHA256), qscopeVersion: text(.qscopeVersion), created: text(.created))
    }
}

/// One entry of `layers`: `{ "weights": spec, "activations": spec, "split": parts }`, every field
/// optional, no other field allowed. A spec is a `QuantizerSpec` string or `float` (also `fp32`).
///
/// Decoding never throws: a bad entry keeps its problem in `choice`, so `PlanFile.decode` can
/// report an unknown layer name first, in name order, before the entries' own problems.
struct PlanFileLayerEntry: Decodable {
    /// The entry as a layer choice, or what is wrong with it (without the layer name).
    var choice: Result<LayerChoice, PlanFileProblem>

    /// Any field name, so that unknown fields can be named.
    private struct FieldName: CodingKey {
        var stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }

        static let weights = FieldName(stringValue: "weights")
        static let activations = FieldName(stringValue: "activations")
        static let split = FieldName(stringValue: "split")
        static let all = [weights, activations, split]
    }

    init(from decoder: any Decoder) {
        choice = Result { () throws(PlanFileProblem) in try Self.layerChoice(decoder) }
    }

    private static func layerChoice(_ decoder: any Decoder) throws(PlanFileProblem) -> LayerChoice {
        guard let fields = try? decoder.container(keyedBy: FieldName.self) else {
            throw PlanFileProblem("expected an object")
        }
        let known = Set(FieldName.all.map(\.stringValue))
        // Sorted, so that an entry with several unknown fields always names the same one.
        if let unknown = fields.allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
            throw PlanFileProblem("unknown field '\(unknown)' (expected weights, activations, split)")
        }
        var choice = LayerChoice()
        choice.weights = try spec(fields, .weights)
        choice.activations = try spec(fields, .activations)
        if fields.contains(.split) {
            guard let parts = try? fields.decode(Int.self, forKey: .split), parts >= 2 else {
                throw PlanFileProblem("split must be an integer of at least 2")
            }
            choice.split = parts
        }
        return choice
    }

    /// The spec in `field`: nil when the field is absent, `float` or `fp32`.
    private static func spec(_ fields: KeyedDecodingContainer<FieldName>, _ field: FieldName) throws(PlanFileProblem) -> QuantizerSpec? {
        guard fields.contains(field) else { return nil }
        // `try?` also rejects null, which `decodeIfPresent` would take for an absent field.
        guard let text = try? fields.decode(String.self, forKey: field) else {
            throw PlanFileProblem("\(field.stringValue) must be a string such as \"int8\"")
        }
        if text == "float" || text == "fp32" { return nil }
        do {
            return try QuantizerSpec(parsing: text)
        } catch {
            // The parser's errors are one-line `QScopeError`s without a file.
            throw PlanFileProblem((error as? QScopeError)?.message ?? "\(error)")
        }
    }
}
