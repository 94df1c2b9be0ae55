import Executor
import Foundation
import TestSupport
import Testing
import Analysis
import SwiftProtobuf

/// The ONNX QDQ export: graph structure (DQ nodes, explicit axes, container types, opset), and a
/// re-load through qscope's own loader giving exactly the accuracy `eval --plan` computes for the
/// same plan, for an int8, an int4 and a mixed plan of every sample model.
@Suite("ONNX QDQ export")
struct QDQExportTests {
    static func load(_ name: String) throws -> (Model, Dataset) { try BundledSamples.load(name) }

    /// The three plans the export is checked with. Mixed: int8 / int4:asym / int3 / fp8 / lut3 (baked)
    /// weights in turn, int8 activations on every layer but the first, int6:asym on the first.
    static func plans(_ model: Model) throws -> [(String, Plan)] {
        let names = model.layers.map(\.name)
        let int8 = Plan(layerNames: names, choices: names.map { _ in LayerChoice(weights: .int(8)) })
        let int4 = Plan(layerNames: names, choices: names.map { _ in LayerChoice(weights: .int(4)) })
        let cycle = try ["int8", "int4:asym", "int3", "fp8:e4m3", "lut3"].map { try QuantizerSpec(parsing: $0) }
        let mixed = try Plan(layerNames: names, choices: names.indices.map { i in
            LayerChoice(weights: cycle[i % cycle.count],
                        activations: try QuantizerSpec(parsing: i == 0 ? "int6:asym" : "int8"))
        })
        return [("int8", int8), ("int4", int4), ("mixed", mixed)]
    }

    /// What `qscope eval --plan` computes (EvalCommand): plan activations calibrated on the first 512
    /// samples, the plan's weights substituted by the engine's evaluator.
    static func evalPlanCorrect(_ plan: Plan, model: Model, dataset: Dataset) async throws -> Int {
        let activations = try PlanActivations.calibrate(plan: plan, model: model, calibration: dataset.prefix(512))
        var weightsOnly = plan
        for i in weightsOnly.choices.indices { weightsOnly.choices[i].activations = nil }
        let evaluator = try PlanEvaluator(model: activations.model, dataset: dataset)
        return try await evaluator.evaluate(weightsOnly).correct!
    }

    static func floatCorrect(_ model: Model, dataset: Dataset) async throws -> Int {
        try await PlanEvaluator(model: model, dataset: dataset).evaluate(Plan(model: model)).correct!
    }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("qscope-export-\(getpid())-\(name)").path
    }

    @Test("re-loaded export has eval --plan's accuracy; int4 file smaller than FP32", arguments: ["mlp", "cnn", "vit"])
    func reloadMatchesEvalPlan(_ name: String) async throws {
        let (model, dataset) = try Self.load(name)
        let fp32Bytes = try FileManager.default.attributesOfItem(atPath: model.path)[.size] as! Int
        for (label, plan) in try Self.plans(model) {
            let path = Self.temporary("\(name)-\(label).onnx")
            defer { try? FileManager.default.removeItem(atPath: path) }
            let report = try Exporter.export(model: model, plan: plan, format: .onnxQDQ, to: path, calibration: dataset.prefix(512))
            let reloaded = try Model.load(path: path)
            #expect(reloaded.layers.map(\.name) == model.layers.map(\.name), "\(name) \(label): layers")
            let exported = try await Self.floatCorrect(reloaded, dataset: dataset)
            let expected = try await Self.evalPlanCorrect(plan, model: model, dataset: dataset)
            #expect(exported == expected, "\(name) \(label): export \(exported) correct vs eval --plan \(expected) of \(dataset.count)")
            if label == "int4" {
                #expect(report.bytes < fp32Bytes / 4, "\(name): int4 export \(report.bytes) bytes vs FP32 \(fp32Bytes)")
            }
            if label == "mixed" {
                #expect(report.warnings.contains { $0.contains("baked") && $0.contains(model.layers[4 % model.layers.count].name) }
                        || model.layers.count < 5, "\(report.warnings)")
            }
        }
    }

    @Test("graph structure: DQ per quantized weight, explicit axis, container type, opset and IR version", arguments: ["mlp", "cnn", "vit"])
    func structure(_ name: String) throws {
        let (model, dataset) = try Self.load(name)
        let plans = try Self.plans(model)
        for (label, plan) in plans {
            let input = try ExportInput(model: model, plan: plan, calibration: dataset.prefix(256))
            let output = try QDQExporter.export(input)
            let proto = try Onnx_ModelProto(serializedBytes: output.bytes)
            let graph = proto.graph
            let initializers = Dictionary(graph.initializer.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let producers = Dictionary(graph.node.flatMap { n in n.output.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
            let opset = proto.opsetImport.first { $0.domain.isEmpty }!.version
            switch label {
            case "int8": #expect(opset == 17 && proto.irVersion == 8, "int8 keeps the model's opset 17")
            default: #expect(opset == 21 && proto.irVersion == 10, "\(label): opset \(opset) IR \(proto.irVersion)")
            }
            for (i, layer) in model.layers.enumerated() {
                let node = graph.node.first { $0.name == model.graph.nodes[layer.nodeIndex].name && $0.opType == layer.opType }!
                let weightInput = node.input[1]
                let baked = input.weights[i]!.isBaked
                if baked {
                    #expect(initializers[weightInput]?.dataType == 1, "\(name) \(label) \(layer.name): baked weight is float")
                    continue
                }
                guard let dq = producers[weightInput], dq.opType == "DequantizeLinear" else {
                    Issue.record("\(name) \(label) \(layer.name): weight not behind DequantizeLinear")
                    continue
                }
                let axis = dq.attribute.first { $0.name == "axis" }
                #expect(axis?.i == Int64(layer.outputAxis), "\(name) \(layer.name) (\(layer.opType)): axis \(String(describing: axis?.i)) vs \(layer.outputAxis)")
                let codes = initializers[dq.input[0]]!
                let scale = initializers[dq.input[1]]!
                #expect(scale.dims == [Int64(layer.weightShape[layer.outputAxis])], "per-channel scale length")
                #expect(codes.dims == layer.weightShape.map(Int64.init))
                let spec = plan.choices[i].weights!
                let expectedType: Int32
                switch spec.description {
                case "int8": expectedType = 3
                case "int4", "int3": expectedType = 22
                case "int4:asym": expectedType = 21
                case "fp8:e4m3": expectedType = 17
                default: expectedType = -1
                }
                #expect(codes.dataType == expectedType, "\(name) \(layer.name) \(spec): type \(codes.dataType)")
                if codes.dataType == 22 || codes.dataType == 21 {
                    #expect(codes.rawData.count == (layer.parameterCount + 1) / 2, "int4 packed two per byte")
                }
                #expect((dq.input.count == 3) == (spec.description == "int4:asym"), "zero point only for asymmetric grids")
                // A replaced FP32 weight is gone from the file.
                #expect(initializers[model.graph.valueNames[layer.weight]] == nil, "\(name) \(layer.name): FP32 weight still stored")
            }
            if label == "mixed" {
                let qNodes = graph.node.filter { $0.opType == "QuantizeLinear" }
                #expect(qNodes.count == input.activations.count, "one QuantizeLinear per quantized tensor")
                #expect(!graph.node.contains { $0.opType == "BatchNormalization" } || name != "cnn", "folded BNs dropped")
            }
        }
    }

    @Test("encodings dequantize to exactly the fake-quantized weights qscope evaluates")
    func encodingEqualsFakeQuant() throws {
        let (model, _) = try Self.load("vit")
        let specs = try ["int8", "int4", "int3:hawq", "int5:asym", "int8:tensor", "int12", "fp8:e4m3", "fp8:e5m2:tensor", "pot4", "int4:group=16"]
            .map { try QuantizerSpec(parsing: $0) }
        for layer in model.layers {
            let weight = model.graph.constants[layer.weight]!
            for spec in specs {
                let encoding = try WeightEncoding.encode(spec, weight: weight, outputAxis: layer.outputAxis)
                let reference = try spec.quantize(weight: weight, outputAxis: layer.outputAxis).values
                let got = encoding.dequantized()
                let differ = zip(got, reference).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differ == 0, "\(layer.name) \(spec): \(differ) values differ")
                if case .integer(let type, let codes, _, _) = encoding.storage, let range = encoding.codeRange {
                    #expect(codes.allSatisfy { range.contains($0) }, "\(spec): codes within \(range) (\(type))")
                }
            }
        }
    }

    @Test("a folded BatchNorm is dropped and its Conv gets the folded bias; weights decode bit-exactly after reload")
    func foldedBatchNormRoundTrip() throws {
        let (model, _) = try Self.load("cnn")
        let plan = Plan(layerNames: model.layers.map(\.name), choices: model.layers.map { _ in LayerChoice(weights: .int(4)) })
        let path = Self.temporary("cnn-bn.onnx")
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try Exporter.export(model: model, plan: plan, format: .onnxQDQ, to: path, calibration: nil)
        let raw = try ONNXLoader.load(path: path)
        #expect(!raw.nodes.contains { $0.opType == "BatchNormalization" })
        let reloaded = try Model.load(path: path)
        #expect(raw.nodes.filter { $0.opType == "DequantizeLinear" }.count == model.layers.count)
        #expect(!reloaded.graph.nodes.contains { $0.opType == "DequantizeLinear" }, "constant DequantizeLinear folded at load")
        #expect(reloaded.graph.nodes.count == model.graph.nodes.count, "the simplified graph is the float model's")
        for (layer, again) in zip(model.layers, reloaded.layers) {
            let expected = try QuantizerSpec.int(4).quantize(weight: model.graph.constants[layer.weight]!, outputAxis: layer.outputAxis).values
            let got = reloaded.graph.constants[again.weight]!.values
            #expect(zip(got, expected).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(layer.name): DQ-folded weight differs")
            if let b = layer.bias, let b2 = again.bias {
                #expect(model.graph.constants[b]!.values == reloaded.graph.constants[b2]!.values, "\(layer.name): bias")
            }
        }
    }
}
