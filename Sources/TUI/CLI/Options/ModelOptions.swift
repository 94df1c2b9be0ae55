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

    /// The model path: the argument, else the model the plan at `planPath` records (resolved against
    /// the plan's folder, so that `--plan` alone works from any working directory), else the default
    /// sample model.
    func modelPath(planPath: String? = nil) throws -> String {
        if let model { return model }
        if let planPath, let recorded = try PlanFile.provenance(path: planPath).modelPath { return recorded }
        return try SampleModels.locate().modelPath()
    }

    /// The data path: the option, else the data the plan records when the model is the plan's own,
    /// else the sample data when the model is a bundled sample model.
    func dataPath(for modelPath: String, planPath: String? = nil) throws -> String {
        if let data { return data }
        if model == nil, let planPath, let recorded = try PlanFile.provenance(path: planPath).dataPath { return recorded }
        if let samples = try? SampleModels.locate(), samples.entry(forPath: modelPath) != nil {
            return samples.dataFile
        }
        throw QScopeError(file: modelPath, "no evaluation data: pass --data FILE (.npz with x and y, or IDX)")
    }

    /// Loads the model and the data bound to its inputs; with `planPath`, those the plan records
    /// stand in for a missing model argument and `--data`.
    package func load(planPath: String? = nil) throws -> (Model, Dataset) {
        let path = try modelPath(planPath: planPath)
        let model = try Model.load(path: path)
        let dataset = try DatasetLoader.load(path: try dataPath(for: path, planPath: planPath), labels: labels)
        return (model, try dataset.fitted(to: model))
    }
}
