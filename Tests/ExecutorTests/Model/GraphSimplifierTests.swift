import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// The load-time rewrites happen on the sample models (their numerical effect is covered by the
/// parity tests, which compare the rewritten graphs' logits with ONNX Runtime's).
@Suite("graph simplifier")
struct GraphSimplifierTests {
    static let root = BundledSamples.root

    static func ops(_ relative: String) throws -> (file: [String: Int], executed: [String: Int], model: Model) {
        let model = try Model.load(path: root.appendingPathComponent(relative).path)
        var executed: [String: Int] = [:]
        for node in model.graph.nodes { executed[node.opType, default: 0] += 1 }
        return (model.fileOpCounts, executed, model)
    }

    @Test("CNN: BatchNorm folded into the convolutions, Relu fused, Identity removed")
    func cnnRewrites() throws {
        let (file, executed, model) = try Self.ops("sample-models/cnn.onnx")
        #expect(file["BatchNormalization"] == 8)
        #expect(executed["BatchNormalization"] == nil)
        #expect(executed["Identity"] == nil)
        #expect(executed["Conv"] == 8)
        let fused = model.graph.nodes.filter { $0.attributes["qscope.fused_relu"] != nil }.count
        #expect(fused + (executed["Relu"] ?? 0) == file["Relu"])
        #expect(fused >= 4)
        // Every conv now has a bias (folded from its BatchNorm).
        #expect(model.layers.filter { $0.opType == "Conv" }.allSatisfy { $0.bias != nil })
    }

    @Test("CNN: every residual Add (and the Relu after it) is fused into the Conv that feeds it")
    func cnnResidualFusion() throws {
        let (file, executed, model) = try Self.ops("sample-models/cnn.onnx")
        #expect(file["Add"] == 3)
        #expect(executed["Add"] == nil)
        let residual = model.graph.nodes.filter { $0.opType == "Conv" && $0.inputs.count == 4 }
        #expect(residual.count == 3)
        #expect(residual.allSatisfy { $0.attributes["qscope.fused_relu"] != nil })
        #expect(executed["Relu"] == nil)
        // Node order stays topological: every input is produced before it is read.
        var available = Set(model.graph.inputIDs).union(model.graph.constants.keys)
        for node in model.graph.nodes {
            for case let input? in node.inputs { #expect(available.contains(input), "\(node.name) reads \(input) early") }
            available.formUnion(node.outputs)
        }
    }

    @Test("ViT: GELU subgraphs become Gelu, MatMul+Add become biased MatMuls")
    func vitRewrites() throws {
        let (file, executed, model) = try Self.ops("sample-models/vit.onnx")
        #expect(file["Erf"] == 4)
        #expect(executed["Erf"] == nil)
        #expect(executed["Gelu"] == 4)
        let biased = model.graph.nodes.filter { $0.opType == "MatMul" && $0.inputs.count == 3 }.count
        #expect(biased == 24)
        #expect(model.layers.filter { $0.opType == "MatMul" }.allSatisfy { $0.bias != nil })
        // Shape arithmetic (Shape, Gather, Concat, ...) is folded away at compile time.
        let compiled = try model.compile(batch: 3, sampleShape: [1, 28, 28])
        #expect(compiled.outputTypes.first?.shape == [3, 10])
    }
}
