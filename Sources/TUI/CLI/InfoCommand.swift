import Analysis
import ArgumentParser
import Executor
import Foundation
import Workbench

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Inputs, outputs, ops and quantizable layers of a model."
    )

    @Argument(help: "ONNX model file (default: the bundled default sample model).")
    var model: String?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        try reportingErrors {
            let path = try model ?? SampleModels.locate().modelPath()
            let model = try Model.load(path: path)
            let sampleDims = model.declaredSampleDims
            let sampleShape = sampleDims.compactMap { $0 }
            let macs: [Int]? = sampleShape.count == sampleDims.count ? try model.macsPerSample(sampleShape: sampleShape) : nil
            let ops = model.fileOpCounts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            if json {
                let layers: [[String: Any]] = model.layers.enumerated().map { i, layer in
                    var entry: [String: Any] = ["name": layer.name, "op": layer.opType, "weight_shape": layer.weightShape,
                                                "parameters": layer.parameterCount]
                    if let macs { entry["macs_per_sample"] = macs[i] }
                    return entry
                }
                try printJSON([
                    "model": path, "opset": model.graph.opset,
                    "inputs": model.graph.inputs.map { ["name": $0.name, "type": "\($0.dataType)", "shape": $0.shapeText] },
                    "outputs": model.graph.outputs.map { ["name": $0.name, "type": "\($0.dataType)", "shape": $0.shapeText] },
                    "ops": Dictionary(uniqueKeysWithValues: ops.map { ($0.key, $0.value) }),
                    "executed_nodes": model.graph.nodes.count,
                    "layers": layers,
                    "parameters": model.layers.reduce(0) { $0 + $1.parameterCount },
                ])
                return
            }
            print("model   \(path)  (opset \(model.graph.opset), \(model.graph.nodes.count) nodes after folding)")
            for spec in model.graph.inputs { print("input   \(spec.name)  \(spec.dataType) \(spec.shapeText)") }
            for spec in model.graph.outputs { print("output  \(spec.name)  \(spec.dataType) \(spec.shapeText)") }
            print("ops     " + ops.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            print("")
            var table = TextTable(headers: ["layer", "op", "weight shape", "params", "MACs/sample"], alignRight: [3, 4])
            for (i, layer) in model.layers.enumerated() {
                table.append([layer.name, layer.opType, "\(layer.weightShape)", "\(layer.parameterCount)",
                              macs.map { "\($0[i])" } ?? "?"])
            }
            table.rows.append(["total", "", "", "\(model.layers.reduce(0) { $0 + $1.parameterCount })",
                               macs.map { "\($0.reduce(0, +))" } ?? "?"])
            print("quantizable layers (\(model.layers.count))")
            for line in table.render() { print(line) }
        }
    }
}
