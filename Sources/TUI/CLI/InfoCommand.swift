import Analysis
import ArgumentParser
import Executor

struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Inputs, outputs, ops and quantizable layers of a model."
    )

    @Argument(help: "ONNX model file (default: the bundled default sample model).")
    var model: String?

    @OptionGroup var output: OutputOptions

    func run() async throws {
        try reportingErrors {
            let path = try model ?? SampleModels.locate().modelPath()
            try output.print(try InfoCommand.report(model: Model.load(path: path), path: path))
        }
    }

    static func report(model: Model, path: String) throws -> InfoReport {
        // MACs need every input's sample dims; a symbolic sequence length leaves them unknown.
        let sampleDims = model.graph.inputs.map { Array($0.dims.dropFirst()) }
        let known = sampleDims.allSatisfy { $0.allSatisfy { $0 != nil && $0! > 0 } }
        let macs: [Int]? = known ? try model.macsPerSample(sampleShapes: sampleDims.map { $0.map { $0! } }) : nil
        func tensor(_ spec: ValueSpec) -> InfoReport.Tensor {
            InfoReport.Tensor(name: spec.name, type: "\(spec.dataType)", shape: spec.shapeText)
        }
        return InfoReport(
            model: path, opset: model.graph.opset, inputs: model.graph.inputs.map(tensor), outputs: model.graph.outputs.map(tensor),
            ops: model.fileOpCounts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { InfoReport.OpCount(op: $0.key, count: $0.value) },
            executedNodes: model.graph.nodes.count,
            layers: model.layers.enumerated().map { i, layer in
                InfoReport.Layer(name: layer.name, op: layer.opType, weightShape: layer.weightShape,
                                 parameters: layer.parameterCount, macsPerSample: macs?[i],
                                 stored: layer.stored.map(InfoReport.Stored.init))
            },
            parameters: model.layers.reduce(0) { $0 + $1.parameterCount }, macsPerSample: macs?.reduce(0, +))
    }
}
