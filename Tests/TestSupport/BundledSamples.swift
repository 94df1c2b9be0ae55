import Analysis
import Executor
import Foundation

/// The repository's bundled sample models and evaluation data, for the tests that run on them.
public enum BundledSamples {
    /// The repository root (this file is Tests/TestSupport/BundledSamples.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `relative` (to the repository root) as an absolute path.
    public static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// `sample-models/NAME.onnx` and the bundled 2,000 test images fitted to its input; the first
    /// `samples` of them when given.
    public static func load(_ name: String, samples: Int? = nil) throws -> (Model, Dataset) {
        let model = try Model.load(path: path("sample-models/\(name).onnx"))
        let data = try DatasetLoader.load(path: path("sample-models/fashion-mnist-test-2000.npz"))
            .fitted(toInput: model.graph.inputs[0].name, dims: model.graph.inputs[0].dims)
        return (model, samples.map { data.prefix($0) } ?? data)
    }
}
