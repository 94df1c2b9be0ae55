import Analysis
import Executor
import Foundation

/// The `e` dialog: an export format and the path to write it to.
///
/// The path starts as `<model stem>.<suffix of the format>` next to the model and follows the
/// format while the user has not typed in it; once edited it is left alone.
public struct ExportDialog: Hashable, Sendable {
    public var format: Exporter.Format
    public var path: String
    /// True once the user changed the path (cycling the format then keeps it).
    public var pathEdited = false

    public init(format: Exporter.Format = .onnxQDQ, modelPath: String) {
        self.format = format
        self.path = Self.defaultPath(modelPath: modelPath, format: format)
    }

    /// The file name ending of each format.
    public static func suffix(_ format: Exporter.Format) -> String {
        switch format {
        case .onnxQDQ: return "qdq.onnx"
        case .aimet: return "encodings.json"
        case .ortOverrides: return "ort-overrides.json"
        case .plan: return "qscope.json"
        }
    }

    /// `dir/model.onnx` -> `dir/model.<suffix>`.
    public static func defaultPath(modelPath: String, format: Exporter.Format) -> String {
        let url = URL(fileURLWithPath: modelPath)
        let stem = url.deletingPathExtension().lastPathComponent
        let directory = (modelPath as NSString).deletingLastPathComponent
        let name = "\(stem).\(suffix(format))"
        return directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name)
    }

    /// The next (or previous) format in `Exporter.Format.allCases`, with the default path when unedited.
    mutating func cycle(by step: Int, modelPath: String) {
        let all = Exporter.Format.allCases
        let index = all.firstIndex(of: format) ?? 0
        format = all[(index + step + all.count) % all.count]
        if !pathEdited { path = Self.defaultPath(modelPath: modelPath, format: format) }
    }
}
