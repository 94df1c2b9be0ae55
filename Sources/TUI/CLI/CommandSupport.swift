import Analysis
import ArgumentParser
import Executor
import Foundation

/// Runs a command body and turns every user-facing failure into one line on stderr and exit status 1.
package func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as QScopeError {
        FileHandle.standardError.write(Data("qscope: \(error.description)\n".utf8))
        throw ExitCode(1)
    }
}

/// The model and data arguments shared by the commands.
package struct ModelOptions: ParsableArguments {
    package init() {}

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
    package func load() throws -> (Model, Dataset) {
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

/// The headless subcommands, in the order `qscope --help` lists them after the workbench.
package enum HeadlessCommands {
    package static let all: [any ParsableCommand.Type] = [
        EvalCommand.self, InfoCommand.self, BenchCommand.self, CompareCommand.self, AnalyzeCommand.self,
        SearchCommand.self, ParetoCommand.self, ExportCommand.self,
    ]
}

/// `path` without the working directory in front (shorter on screen; still valid for saving).
package func relativeToWorkingDirectory(_ path: String) -> String {
    let cwd = FileManager.default.currentDirectoryPath + "/"
    return path.hasPrefix(cwd) ? String(path.dropFirst(cwd.count)) : path
}
