import Executor
import Foundation
import SwiftProtobuf

/// What every export format needs from a model and a plan: each quantized layer's weight encoding,
/// the calibrated activation quantizers, and the names of the tensors in the file as the user gave
/// it (exports describe that model, not qscope's simplified graph).
///
/// Weights are encoded from the model qscope evaluates: where the loader folded a BatchNormalization
/// into a Conv, the encoded weight is the folded one (`W·γ/√(σ²+ε)`); `foldedBatchNorm` names the BN
/// so that the ONNX export can drop it and give the Conv the folded bias.
public struct ExportInput: Sendable {
    public let model: Model
    public let plan: Plan
    /// Per layer (model order): the weight encoding, nil when the layer keeps FP32 weights.
    public let weights: [WeightEncoding?]
    /// Calibrated activation quantizers of the plan (empty when it has none).
    public let activations: [PlanActivations.Entry]
    /// Per layer: the index of its node in the file's `graph.node` list.
    let fileNodes: [Int]
    /// Per layer: the file index of the BatchNormalization node folded into it, if any.
    let foldedBatchNorm: [Int?]
    /// The file's model, decoded.
    let proto: Onnx_ModelProto

    /// Prepares `plan` for export. `calibration` (fitted to the model input) is needed when the plan
    /// quantizes activations; it must be the data `eval --plan` calibrates on for the numbers to match.
    public init(model: Model, plan: Plan, calibration: Dataset?) throws {
        guard plan.layerNames == model.layers.map(\.name) else {
            throw QScopeError(file: model.path, "the plan is for another model")
        }
        for (i, choice) in plan.choices.enumerated() where choice.split != nil {
            throw QScopeError("layer '\(plan.layerNames[i])': split layers cannot be exported yet")
        }
        self.model = model
        self.plan = plan
        let proto: Onnx_ModelProto
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: model.path))
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 200
            proto = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw QScopeError(file: model.path, "cannot re-read the model for export")
        }
        self.proto = proto
        // The loader names an unnamed node `<OpType>_<index in the file>`; layers keep node names.
        let names = proto.graph.node.enumerated().map { $0.element.name.isEmpty ? "\($0.element.opType)_\($0.offset)" : $0.element.name }
        var fileNodes: [Int] = []
        var folded: [Int?] = []
        let consumers = Dictionary(grouping: proto.graph.node.indices.flatMap { i in proto.graph.node[i].input.map { ($0, i) } },
                                   by: \.0).mapValues { $0.map(\.1) }
        for layer in model.layers {
            let node = model.graph.nodes[layer.nodeIndex]
            if let stored = layer.stored {
                // The exporters rewrite a float model's weights in the file; a file that already holds
                // codes (behind DequantizeLinear or inside a quantized op) would need its own rewrite.
                throw QScopeError(file: model.path, "layer '\(layer.name)' is already stored quantized (\(stored.summary)); "
                                  + "exporting an already-quantized model is not supported")
            }
            guard let index = names.indices.first(where: { names[$0] == node.name && proto.graph.node[$0].opType == node.opType }) else {
                throw QScopeError(file: model.path, "layer '\(layer.name)' has no node named '\(node.name)' in the file")
            }
            fileNodes.append(index)
            // A BN the loader folded into this Conv: the only reader of the Conv's output, gone from
            // the simplified graph.
            let fileNode = proto.graph.node[index]
            var bn: Int?
            if node.opType == "Conv", fileNode.input.count > 1,
               let readers = consumers[fileNode.output[0]], readers.count == 1,
               proto.graph.node[readers[0]].opType == "BatchNormalization",
               !Self.graphHasNode(model.graph, named: names[readers[0]], opType: "BatchNormalization") {
                bn = readers[0]
            }
            folded.append(bn)
        }
        self.fileNodes = fileNodes
        self.foldedBatchNorm = folded
        weights = try model.layers.indices.map { i in
            guard let spec = plan.choices[i].weights else { return nil }
            let layer = model.layers[i]
            guard let weight = model.graph.constants[layer.weight] else {
                throw QScopeError(file: model.path, "layer '\(layer.name)' has no constant weight")
            }
            do {
                return try WeightEncoding.encode(spec, weight: weight, outputAxis: layer.outputAxis, stored: layer.stored)
            } catch let error as QScopeError {
                throw QScopeError(file: error.file, "layer '\(layer.name)': \(error.message)")
            }
        }
        if plan.choices.contains(where: { $0.activations != nil }) {
            guard let calibration else {
                throw QScopeError(file: model.path, "the plan quantizes activations: calibration data is needed (--data)")
            }
            activations = try PlanActivations.calibrate(plan: plan, model: model, calibration: calibration).entries
        } else {
            activations = []
        }
    }

    private static func graphHasNode(_ graph: Graph, named name: String, opType: String) -> Bool {
        graph.nodes.contains { $0.name == name && $0.opType == opType }
    }

    /// The file's name of layer `i`'s weight tensor.
    public func weightName(_ i: Int) -> String { proto.graph.node[fileNodes[i]].input[1] }

    /// The file's name of the tensor layer `i` reads as its data input.
    public func inputName(_ i: Int) -> String { proto.graph.node[fileNodes[i]].input[0] }

    /// Layers whose weights are baked into float values, with the reason.
    public var bakedLayers: [(name: String, reason: String)] {
        model.layers.indices.compactMap { i in
            guard case .baked(_, let reason)? = weights[i]?.storage else { return nil }
            return (model.layers[i].name, reason)
        }
    }
}
