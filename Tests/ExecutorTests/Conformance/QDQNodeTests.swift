import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// QuantizeLinear / DequantizeLinear on the opset-19/21 types that the installed ONNX backend node
/// tests (ONNX 1.12) predate: int4 / uint4 (packed, both `raw_data` and `int32_data`), float8e4m3fn,
/// float8e5m2, per tensor and per axis, with saturation and round-half-to-even ties. The fixtures
/// in Tests/Fixtures/onnx-node are backend-test folders whose outputs come from ONNX's reference
/// implementation (tools/make_qdq_node_fixtures.py); the same runner and tolerances as the
/// conformance suite apply (exact for integer outputs).
@Suite("QuantizeLinear / DequantizeLinear node tests")
struct QDQNodeTests {
    static let root = BundledSamples.root.appendingPathComponent("Tests/Fixtures/onnx-node").path

    @Test("every int4 / uint4 / FP8 / int8 fixture passes")
    func fixturesPass() {
        let names = ONNXNodeTestRunner.allTests(root: Self.root)
        #expect(names.count == 10, "fixtures: \(names)")
        for name in names {
            let outcome = ONNXNodeTestRunner.run(name, root: Self.root)
            if case .passed = outcome { continue }
            Issue.record("\(name): \(outcome)")
        }
    }

    @Test("blocked quantization is refused with an error naming the node")
    func blockedIsRejected() throws {
        var graph = Graph(opset: 21)
        let x = graph.addValue(named: "x"), scale = graph.addValue(named: "scale"), y = graph.addValue(named: "y")
        graph.constants[x] = Tensor(shape: [2, 4], integers: [1, 2, 3, 4, 5, 6, 7, -8], dataType: .int4)
        graph.inputs = [ValueSpec(name: "scale", dataType: .float32, dims: [2, 2])]
        graph.inputIDs = [scale]
        graph.nodes = [Node(name: "dq", opType: "DequantizeLinear", inputs: [x, scale], outputs: [y],
                            attributes: ["axis": .int(1), "block_size": .int(2)])]
        graph.outputs = [ValueSpec(name: "y", dataType: .float32, dims: [2, 4])]
        graph.outputIDs = [y]
        let model = try Model(path: "blocked.onnx", raw: graph)
        do {
            _ = try CompiledGraph(graph: model.graph, inputShapes: [[2, 2]])
            Issue.record("blocked DequantizeLinear compiled")
        } catch let error as QScopeError {
            #expect(error.message.contains("DequantizeLinear 'dq'") && error.message.contains("block_size"), "\(error)")
        }
    }
}
