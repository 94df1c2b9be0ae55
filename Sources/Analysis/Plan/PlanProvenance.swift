import Executor
import Foundation

/// Where a plan came from, recorded in the plan file so that it can be opened again from anywhere
/// and checked against the model it is opened with.
///
/// In the file, `model` and `data` are paths relative to the plan file's folder (absolute when the
/// plan was saved on another file system root), next to the SHA-256 of each file, the qscope version
/// that wrote the plan and the time in UTC. All fields are optional when reading: hand-written plans
/// and plans from earlier versions have only `model`, which was relative to the working directory.
public struct PlanProvenance: Equatable, Sendable {
    /// The model file: as written in the plan (`recorded`), or resolved against the plan's folder.
    public var modelPath: String?
    public var modelSHA256: String?
    public var dataPath: String?
    public var dataSHA256: String?
    public var qscopeVersion: String?
    /// ISO 8601, UTC, to the second.
    public var created: String?

    public init(modelPath: String? = nil, modelSHA256: String? = nil, dataPath: String? = nil, dataSHA256: String? = nil,
                qscopeVersion: String? = nil, created: String? = nil) {
        self.modelPath = modelPath
        self.modelSHA256 = modelSHA256
        self.dataPath = dataPath
        self.dataSHA256 = dataSHA256
        self.qscopeVersion = qscopeVersion
        self.created = created
    }

    /// The provenance of a plan about to be written to `planPath` for these files: paths relative to
    /// the plan's folder, the files' hashes (nil for a file that cannot be read), this qscope's
    /// version and the current time.
    public static func recording(planPath: String, modelPath: String?, dataPath: String?, now: Date = Date()) -> PlanProvenance {
        let folder = (absolute(planPath) as NSString).deletingLastPathComponent
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return PlanProvenance(
            modelPath: modelPath.map { relative(absolute($0), from: folder) }, modelSHA256: modelPath.flatMap(SHA256.hexDigest(ofFile:)),
            dataPath: dataPath.map { relative(absolute($0), from: folder) }, dataSHA256: dataPath.flatMap(SHA256.hexDigest(ofFile:)),
            qscopeVersion: QScopeVersion.current, created: formatter.string(from: now))
    }

    /// This provenance with `modelPath` and `dataPath` resolved for the working directory: a
    /// relative path is taken from the plan file's folder when the file exists there, and as given
    /// (relative to the working directory, as plans of earlier versions wrote it) otherwise.
    public func resolved(forPlanAt planPath: String) -> PlanProvenance {
        let folder = (planPath as NSString).deletingLastPathComponent
        func resolve(_ path: String?) -> String? {
            guard let path, !path.hasPrefix("/") else { return path }
            let besidePlan = folder.isEmpty ? path : (folder as NSString).appendingPathComponent(path)
            if FileManager.default.fileExists(atPath: besidePlan) { return (besidePlan as NSString).standardizingPath }
            return path
        }
        var copy = self
        copy.modelPath = resolve(modelPath)
        copy.dataPath = resolve(dataPath)
        return copy
    }

    /// `path` made absolute against the working directory, with `.` and `..` removed.
    static func absolute(_ path: String) -> String {
        let joined = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        return (joined as NSString).standardizingPath
    }

    /// The relative path from the folder `base` to `target` (both absolute and standardized), with
    /// `..` where needed: `relative("/a/m/x.onnx", from: "/a/p")` is `../m/x.onnx`.
    package static func relative(_ target: String, from base: String) -> String {
        let to = target.split(separator: "/").map(String.init)
        let from = base.split(separator: "/").map(String.init)
        var common = 0
        while common < min(to.count, from.count), to[common] == from[common] { common += 1 }
        let parts = Array(repeating: "..", count: from.count - common) + to[common...]
        return parts.isEmpty ? "." : parts.joined(separator: "/")
    }
}

/// The version of qscope that plans and exports record.
public enum QScopeVersion {
    /// Raised with each milestone of the changelog.
    public static let current = "0.3.0"
}
