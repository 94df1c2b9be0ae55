import Analysis
import ArgumentParser
import Executor

/// The model and data arguments shared by the commands.
package struct ModelOptions: ParsableArguments {
    package init() {}

    @Argument(help: "ONNX model file (default: the bundled default sample model).")
    var model: String?

    @Option(name: .long, help: "Evaluation data: .npz (x, y; or one array per model input, named after it, and y), .npy, or an IDX image file (labels found beside it).")
    var data: String?

    @Option(name: .long, help: "IDX labels file, when it is not found beside the images.")
    var labels: String?

    /// The model path: the argument, or the default sample model.
    func modelPath() throws -> String {
        if let model { return model }
        return try SampleModels.locate().modelPath()
    }

    /// The data path: the option, or the sample data when the model is a bundled sample model.
    func dataPath(for modelPath: String) throws -> String {
        if let data { return data }
        if let samples = try? SampleModels.locate(), samples.entry(forPath: modelPath) != nil {
            return samples.dataFile
        }
        throw QScopeError(file: modelPath, "no evaluation data: pass --data FILE (.npz with x and y, or IDX)")
    }

    /// Loads the model and the data bound to its inputs.
    package func load() throws -> (Model, Dataset) {
        let path = try modelPath()
        let model = try Model.load(path: path)
        let dataset = try DatasetLoader.load(path: try dataPath(for: path), labels: labels)
        return (model, try dataset.fitted(to: model))
    }
}
