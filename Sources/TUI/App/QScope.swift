import Analysis
import ArgumentParser
import Foundation

@main
struct QScope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qscope",
        abstract: "A workbench for mixed-precision quantization of neural networks.",
        discussion: """
            Without a subcommand qscope opens the workbench. Without a model path, commands use the bundled \
            default sample model and its evaluation data.
            """,
        subcommands: [WorkbenchCommand.self, EvalCommand.self, InfoCommand.self, BenchCommand.self, CompareCommand.self, AnalyzeCommand.self,
                      SearchCommand.self, ParetoCommand.self, ExportCommand.self],
        defaultSubcommand: WorkbenchCommand.self
    )
}

/// Runs a command body and turns every user-facing failure into one line on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as QScopeError {
        FileHandle.standardError.write(Data("qscope: \(error.description)\n".utf8))
        throw ExitCode(1)
    }
}

/// The model and data arguments shared by the commands.
struct ModelOptions: ParsableArguments {
    @Argument(help: "ONNX model file (default: the bundled default sample model).")
    var model: String?

    @Option(name: .long, help: "Evaluation data: .npz (x, y), .npy, or an IDX image file (labels found beside it).")
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

    /// Loads the model and the data fitted to its input.
    func load() throws -> (Model, Dataset) {
        let path = try modelPath()
        let model = try Model.load(path: path)
        let dataset = try DatasetLoader.load(path: try dataPath(for: path), labels: labels)
        guard let input = model.graph.inputs.first else { throw QScopeError(file: path, "the model has no inputs") }
        return (model, try dataset.fitted(toInput: input.name, dims: input.dims))
    }
}

/// Encodes a JSON object with sorted keys on one line.
func printJSON(_ object: [String: Any]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}

/// `12.34`-style formatting with a fixed number of decimals.
func fixed(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
