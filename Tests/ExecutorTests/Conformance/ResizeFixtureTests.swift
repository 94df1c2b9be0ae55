import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// Resize, Upsample and ConvTranspose forms that the installed ONNX backend node tests (ONNX 1.12)
/// do not cover, against ONNX Runtime: Upsample at opsets 7 and 9, opset-10 Resize, empty roi and
/// scales inputs, tf_crop_and_resize, the nearest rounding modes, antialias, axes,
/// keep_aspect_ratio_policy, half_pixel_symmetric, and ConvTranspose with output_shape, groups,
/// dilations, output_padding, SAME_LOWER / SAME_UPPER and 1-D. The fixtures in
/// Tests/Fixtures/exporters/ops are backend-test folders whose outputs ONNX Runtime computed
/// (tools/make_resize_fixtures.py); the conformance suite's runner and tolerances apply. Also: the
/// errors for malformed nodes, one line naming the node.
@Suite("Resize / Upsample / ConvTranspose fixtures and errors")
struct ResizeFixtureTests {
    static let root = BundledSamples.root.appendingPathComponent("Tests/Fixtures/exporters/ops").path

    @Test("every ONNX Runtime fixture passes")
    func fixturesPass() {
        let names = ONNXNodeTestRunner.allTests(root: Self.root).filter { $0.hasPrefix("test_qscope_") }
        #expect(names.count == 35, "fixtures: \(names)")
        for name in names {
            let outcome = ONNXNodeTestRunner.run(name, root: Self.root)
            if case .passed(let mode) = outcome {
                // roi / scales / sizes are initializers: the data input runs at run time.
                #expect(mode == "runtime", "\(name) ran \(mode)")
                continue
            }
            Issue.record("\(name): \(outcome)")
        }
    }

    /// Compiles a one-node graph with run-time input `x` of `shape` and the given constants, and
    /// returns the error message (nil when it compiles).
    static func compileError(_ op: String, opset: Int = 13, x shape: [Int], constants: [(String, Tensor)] = [],
                             inputs: [String], attributes: [String: Attribute] = [:]) throws -> String? {
        var graph = Graph(opset: opset)
        var ids: [String: ValueID] = [:]
        func id(_ name: String) -> ValueID {
            if let id = ids[name] { return id }
            let id = graph.addValue(named: name)
            ids[name] = id
            return id
        }
        for (name, tensor) in constants { graph.constants[id(name)] = tensor }
        graph.inputs = [ValueSpec(name: "x", dataType: .float32, dims: shape.map { $0 })]
        graph.inputIDs = [id("x")]
        graph.nodes = [Node(name: "up1", opType: op, inputs: inputs.map { $0.isEmpty ? nil : id($0) }, outputs: [id("y")],
                            attributes: attributes)]
        graph.outputs = [ValueSpec(name: "y", dataType: .float32, dims: [nil])]
        graph.outputIDs = [id("y")]
        do {
            let model = try Model(path: "bad.onnx", raw: graph)
            _ = try CompiledGraph(graph: model.graph, inputShapes: [shape])
            return nil
        } catch let error as QScopeError {
            return error.message
        }
    }

    static func expectError(_ message: String?, _ parts: String...) {
        guard let message else {
            Issue.record("compiled; expected an error with \(parts)")
            return
        }
        #expect(!message.contains("\n"), "one line: \(message)")
        for part in parts { #expect(message.contains(part), "'\(part)' missing from: \(message)") }
    }

    @Test("Resize: scales and sizes both, neither, or malformed")
    func resizeErrors() throws {
        let scales = Tensor(shape: [4], values: [1, 1, 2, 2]), sizes = Tensor(shape: [4], integers: [1, 1, 4, 4])
        Self.expectError(try Self.compileError("Resize", x: [1, 1, 2, 2], constants: [("s", scales), ("z", sizes)],
                                               inputs: ["x", "", "s", "z"]),
                         "Resize 'up1'", "give scales or sizes, not both")
        Self.expectError(try Self.compileError("Resize", x: [1, 1, 2, 2], constants: [("s", Tensor(shape: [0], values: []))],
                                               inputs: ["x", "", "s"]),
                         "Resize 'up1'", "neither")
        Self.expectError(try Self.compileError("Resize", x: [1, 1, 2, 2], constants: [("s", Tensor(shape: [3], values: [1, 2, 2]))],
                                               inputs: ["x", "", "s"]),
                         "Resize 'up1'", "scales has 3 entries for 4 axes")
        Self.expectError(try Self.compileError("Resize", x: [1, 1, 2, 2], constants: [("s", scales)], inputs: ["x", "", "s"],
                                               attributes: ["mode": .string("bicubic")]),
                         "Resize 'up1'", "mode 'bicubic' is unknown")
        Self.expectError(try Self.compileError("Resize", x: [1, 1, 2, 2], constants: [("s", scales)], inputs: ["x", "", "s"],
                                               attributes: ["coordinate_transformation_mode": .string("tf_crop_and_resize")]),
                         "Resize 'up1'", "needs a roi")
        Self.expectError(try Self.compileError("Resize", x: [1, 1, 2, 2], constants: [("s", Tensor(shape: [4], values: [1, 1, 1e12, 1]))],
                                               inputs: ["x", "", "s"]),
                         "Resize 'up1'", "too large")
        Self.expectError(try Self.compileError("Resize", x: [1, 1, 2, 2], constants: [("z", Tensor(shape: [4], integers: [1, 1, -4, 4]))],
                                               inputs: ["x", "", "", "z"]),
                         "Resize 'up1'", "size -4 for axis 2")
        Self.expectError(try Self.compileError("Upsample", opset: 9, x: [1, 1, 2, 2], inputs: ["x"]), "Upsample 'up1'", "no scales")
        // Computed at run time: refused, not guessed.
        Self.expectError(try Self.compileError("Resize", x: [1, 1, 2, 2], inputs: ["x", "", "x"]), "Resize 'up1'", "constant")
    }

    @Test("ConvTranspose: impossible output_shape, 4-D, mismatched channels, absurd strides")
    func convTransposeErrors() throws {
        let w = Tensor(shape: [2, 3, 3, 3], values: Array(repeating: 0.1, count: 54))
        // Natural output 7 for input 3, stride 2, kernel 3: 8 still maps back to 3 inputs, 9 does not.
        #expect(try Self.compileError("ConvTranspose", x: [1, 2, 3, 3], constants: [("w", w)], inputs: ["x", "w"],
                                      attributes: ["strides": .ints([2, 2]), "output_shape": .ints([8, 8])]) == nil)
        Self.expectError(try Self.compileError("ConvTranspose", x: [1, 2, 3, 3], constants: [("w", w)], inputs: ["x", "w"],
                                               attributes: ["strides": .ints([2, 2]), "output_shape": .ints([9, 8])]),
                         "ConvTranspose 'up1'", "output size 9 on spatial axis 0 does not fit input size 3", "at most 8")
        Self.expectError(try Self.compileError("ConvTranspose", x: [1, 2, 3, 3], constants: [("w", w)], inputs: ["x", "w"],
                                               attributes: ["pads": .ints([1, -1, 0, 0])]),
                         "ConvTranspose 'up1'", "pads [1, -1, 0, 0] are invalid")
        Self.expectError(try Self.compileError("ConvTranspose", x: [1, 2, 3, 3], constants: [("w", w)], inputs: ["x", "w"],
                                               attributes: ["pads": .ints([3, 3, 3, 3])]),
                         "ConvTranspose 'up1'", "the output would be empty")
        Self.expectError(try Self.compileError("ConvTranspose", x: [1, 4, 3, 3], constants: [("w", w)], inputs: ["x", "w"]),
                         "ConvTranspose 'up1'", "input channels 4", "do not agree")
        let w4 = Tensor(shape: [2, 1, 2, 2, 2, 2], values: Array(repeating: 0.1, count: 32))
        Self.expectError(try Self.compileError("ConvTranspose", x: [1, 2, 3, 3, 3, 3], constants: [("w", w4)], inputs: ["x", "w"]),
                         "ConvTranspose 'up1'", "only 1-D, 2-D and 3-D")
        Self.expectError(try Self.compileError("ConvTranspose", x: [1, 2, 3, 3], constants: [("w", w)], inputs: ["x", "w"],
                                               attributes: ["strides": .ints([1 << 40, 1])]),
                         "ConvTranspose 'up1'", "at most 2^20")
    }

    @Test("a 3-D ConvTranspose runs forward; reverse mode refuses it naming the node")
    func convTranspose3DHasNoBackward() throws {
        var b = OpGradientTests.Builder()
        b.constant("w", [2, 1, 2, 2, 2]); b.constant("wh", [3, 4 * 4 * 4 * 1])
        b.node("ConvTranspose", ["x", "w"], ["c"], ["strides": .ints([2, 2, 2])])
        b.node("Flatten", ["c"], ["f"], ["axis": .int(1)])
        b.node("MatMul", ["f", "wh"], ["logits"])
        b.graph.constants[b.id("wh")] = Tensor(shape: [64, 3], values: Array(repeating: 0.01, count: 192))
        let model = try b.finish(input: [2, 2, 2, 2], output: "logits", classes: 3)
        _ = try model.compile(batch: 2, sampleShape: [2, 2, 2, 2])
        #expect {
            _ = try ReverseMode(model: model, batch: 2, sampleShape: [2, 2, 2, 2])
        } throws: { error in
            "\(error)".contains("ConvTranspose 'ConvTranspose_c'") && "\(error)".contains("no backward")
        }
    }

    @Test("DepthToSpace / SpaceToDepth: block sizes that do not divide")
    func depthSpaceErrors() throws {
        Self.expectError(try Self.compileError("DepthToSpace", x: [1, 6, 2, 2], inputs: ["x"], attributes: ["blocksize": .int(2)]),
                         "DepthToSpace 'up1'", "blocksize 2")
        Self.expectError(try Self.compileError("SpaceToDepth", x: [1, 2, 3, 4], inputs: ["x"], attributes: ["blocksize": .int(2)]),
                         "SpaceToDepth 'up1'", "height 3")
        Self.expectError(try Self.compileError("DepthToSpace", x: [1, 8, 2, 2], inputs: ["x"],
                                               attributes: ["blocksize": .int(2), "mode": .string("RDC")]),
                         "DepthToSpace 'up1'", "mode 'RDC'")
    }
}
