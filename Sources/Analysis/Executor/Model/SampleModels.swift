import Foundation

/// The bundled sample models (`sample-models/manifest.json`): where they are and what they claim.
public struct SampleModels: Sendable {
    public struct Entry: Sendable, Decodable {
        public var name: String
        public var file: String
        public var fp32AccuracyOrt: Double?
        enum CodingKeys: String, CodingKey {
            case name, file
            case fp32AccuracyOrt = "fp32_accuracy_ort"
        }
    }

    struct Manifest: Decodable {
        struct DataFile: Decodable { var file: String }
        var defaultModel: String
        var data: DataFile
        var models: [Entry]
        enum CodingKeys: String, CodingKey {
            case defaultModel = "default_model"
            case data, models
        }
    }

    /// The folder holding `manifest.json`.
    public var directory: String
    public var defaultModel: String
    public var dataFile: String
    public var models: [Entry]

    /// Finds `sample-models/` next to the working directory, above the executable (for
    /// `.build/release/qscope`), or at `$QSCOPE_SAMPLE_MODELS`.
    public static func locate() throws -> SampleModels {
        var candidates: [String] = []
        if let override = ProcessInfo.processInfo.environment["QSCOPE_SAMPLE_MODELS"] { candidates.append(override) }
        candidates.append(FileManager.default.currentDirectoryPath + "/sample-models")
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(directory.appendingPathComponent("sample-models").path)
            directory.deleteLastPathComponent()
        }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate + "/manifest.json") {
            return try load(directory: candidate)
        }
        throw QScopeError(file: "sample-models/manifest.json",
                          "not found; run qscope from the repository root or give a model path")
    }

    public static func load(directory: String) throws -> SampleModels {
        let path = directory + "/manifest.json"
        do {
            let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            return SampleModels(directory: directory, defaultModel: manifest.defaultModel,
                                dataFile: directory + "/" + manifest.data.file, models: manifest.models)
        } catch {
            throw QScopeError(file: path, "cannot be read as a sample-model manifest")
        }
    }

    /// The path of model `name` (the default model when nil).
    public func modelPath(_ name: String? = nil) throws -> String {
        let wanted = name ?? defaultModel
        guard let entry = models.first(where: { $0.name == wanted }) else {
            throw QScopeError(file: directory + "/manifest.json", "has no model named '\(wanted)'")
        }
        return directory + "/" + entry.file
    }

    /// The manifest entry whose file is `path`, if `path` is one of the sample models.
    public func entry(forPath path: String) -> Entry? {
        let target = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        return models.first {
            URL(fileURLWithPath: directory + "/" + $0.file).standardizedFileURL.resolvingSymlinksInPath().path == target
        }
    }
}
