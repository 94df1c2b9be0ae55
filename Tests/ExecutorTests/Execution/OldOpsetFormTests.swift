import Analysis
import Executor
import Foundation
import Testing

/// Op forms of opsets 1-6, which ONNX Runtime no longer loads (so they have no ORT fixture): each
/// against values worked out by hand here, and the refusals that must name the node.
@Suite("opset 1-6 forms and refusals")
struct OldOpsetFormTests {
    /// Runs one node on a float input `x` of `shape` (the other inputs constant), returning output 0.
    static func run(_ opType: String, opset: Int, x: [Float], shape: [Int], constants: [Tensor] = [],
                    attributes: [String: Attribute] = [:], outputs: Int = 1) throws -> (ValueType, [Float]) {
        var graph = Graph(opset: opset)
        let input = graph.addValue(named: "x")
        var inputs: [ValueID?] = [input]
        for (i, tensor) in constants.enumerated() {
            let id = graph.addValue(named: "c\(i)")
            graph.constants[id] = tensor
            inputs.append(id)
        }
        let outputIDs = (0..<outputs).map { graph.addValue(named: "y\($0)") }
        graph.inputs = [ValueSpec(name: "x", dataType: .float32, dims: shape)]
        graph.inputIDs = [input]
        graph.nodes = [Node(name: "n", opType: opType, inputs: inputs, outputs: outputIDs, attributes: attributes)]
        graph.outputs = [ValueSpec(name: "y0", dataType: .float32, dims: [])]
        graph.outputIDs = [outputIDs[0]]
        let model = try Model(path: "old.onnx", raw: graph)
        let compiled = try CompiledGraph(graph: model.graph, inputShapes: [shape])
        try x.withUnsafeBufferPointer { buffer in compiled.run([buffer.baseAddress!]) }
        return (compiled.outputTypes[0], Array(compiled.output(0)))
    }

    /// The error compiling the node gives, or nil when it compiles.
    static func failure(_ opType: String, opset: Int, shape: [Int], constants: [Tensor] = [], attributes: [String: Attribute] = [:],
                        outputs: Int = 1) -> String? {
        do {
            _ = try run(opType, opset: opset, x: [Float](repeating: 0.5, count: shape.reduce(1, *)), shape: shape, constants: constants,
                        attributes: attributes, outputs: outputs)
            return nil
        } catch let error as QScopeError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    @Test("Pad-1's `paddings` attribute")
    func padPaddings() throws {
        let (type, y) = try Self.run("Pad", opset: 1, x: [1, 2, 3, 4], shape: [2, 2],
                                     attributes: ["paddings": .ints([0, 1, 1, 0]), "value": .float(9)])
        #expect(type.shape == [3, 3])
        #expect(y == [9, 1, 2, 9, 3, 4, 9, 9, 9])
    }

    @Test("Cast-1's `to` as a type name")
    func castToName() throws {
        let (type, y) = try Self.run("Cast", opset: 1, x: [1.7, -2.5, 3], shape: [3], attributes: ["to": .string("INT32")])
        #expect(type.dataType == .int32)
        #expect(y == [1, -2, 3])
        let unknown = Self.failure("Cast", opset: 1, shape: [3], attributes: ["to": .string("COMPLEX64")])
        #expect(unknown?.contains("Cast 'n'") == true && unknown?.contains("COMPLEX64") == true, "\(unknown ?? "compiled")")
    }

    @Test("Concat-1 defaults to axis 1")
    func concatDefaultAxis() throws {
        let (type, y) = try Self.run("Concat", opset: 1, x: [1, 2, 3, 4], shape: [2, 2],
                                     constants: [Tensor(shape: [2, 1], values: [5, 6])])
        #expect(type.shape == [2, 3])
        #expect(y == [1, 2, 5, 3, 4, 6])
    }

    @Test("Gemm before opset 7 broadcasts C only with `broadcast` = 1")
    func gemmBroadcastAttribute() throws {
        let weight = Tensor(shape: [2, 2], values: [1, 0, 0, 1]), bias = Tensor(shape: [2], values: [10, 20])
        let (_, y) = try Self.run("Gemm", opset: 6, x: [1, 2, 3, 4], shape: [2, 2], constants: [weight, bias],
                                  attributes: ["broadcast": .int(1)])
        #expect(y == [11, 22, 13, 24])
        let refused = Self.failure("Gemm", opset: 6, shape: [2, 2], constants: [weight, bias])
        #expect(refused?.contains("Gemm 'n'") == true && refused?.contains("broadcast") == true, "\(refused ?? "compiled")")
    }

    @Test("Dropout-6 runs with is_test = 1 and refuses training (is_test = 0)")
    func dropoutIsTest() throws {
        let (_, y) = try Self.run("Dropout", opset: 6, x: [1, 2], shape: [2], attributes: ["is_test": .int(1), "ratio": .float(0.5)])
        #expect(y == [1, 2])
        let refused = Self.failure("Dropout", opset: 6, shape: [2], attributes: ["ratio": .float(0.5)])
        #expect(refused?.contains("Dropout 'n'") == true && refused?.contains("training") == true, "\(refused ?? "compiled")")
    }

    /// Training mode: `training_mode` = 1 with its outputs (opset 14+), or the running-statistics
    /// outputs named before opset 14 (ONNX Runtime then trains: it updates them with the momentum).
    @Test("BatchNormalization refuses training mode")
    func batchNormTraining() {
        let parameters = (0..<4).map { _ in Tensor(shape: [2], values: [1, 1]) }
        for (opset, attributes, outputs) in [(15, ["training_mode": Attribute.int(1)], 3), (9, [:], 5)] {
            let refused = Self.failure("BatchNormalization", opset: opset, shape: [1, 2, 2], constants: parameters,
                                       attributes: attributes, outputs: outputs)
            #expect(refused?.contains("BatchNormalization 'n'") == true && refused?.contains("training") == true,
                    "opset \(opset): \(refused ?? "compiled")")
        }
    }

    /// (On a constant input NonZero folds: the ORT fixture nonzero_constant_opset9.)
    @Test("NonZero on a run-time input is refused with the reason")
    func nonZeroRuntime() {
        let refused = Self.failure("NonZero", opset: 13, shape: [4])
        #expect(refused?.contains("NonZero 'n'") == true && refused?.contains("run-time") == true, "\(refused ?? "compiled")")
    }

    @Test("bad attributes of the new ops name the node")
    func badAttributes() {
        let cases: [(String, [Tensor], [String: Attribute], [Int], String)] = [
            ("TopK", [Tensor(shape: [1], integers: [5])], [:], [2, 4], "k = 5"),
            ("TopK", [], [:], [2, 4], "'k'"),
            ("LpNormalization", [], ["p": .int(3)], [2, 4], "p = 3"),
            ("GroupNormalization", [Tensor(shape: [4], values: [1, 1, 1, 1]), Tensor(shape: [4], values: [0, 0, 0, 0])],
             ["num_groups": .int(3)], [1, 4, 2], "num_groups 3"),
            ("GroupNormalization", [Tensor(shape: [4], values: [1, 1, 1, 1]), Tensor(shape: [4], values: [0, 0, 0, 0])],
             ["num_groups": .int(2)], [1, 4, 2], "one per group"),
            ("InstanceNormalization", [Tensor(shape: [2], values: [1, 1]), Tensor(shape: [2], values: [0, 0])], [:], [1, 3, 2],
             "one per channel"),
            ("Celu", [], ["alpha": .float(0)], [2], "alpha"),
        ]
        for (op, constants, attributes, shape, expected) in cases {
            let opset = op == "TopK" && constants.isEmpty ? 7 : 18
            let message = Self.failure(op, opset: opset, shape: shape, constants: constants, attributes: attributes, outputs: op == "TopK" ? 2 : 1)
            #expect(message?.contains("\(op) 'n'") == true && message?.contains(expected) == true, "\(op): \(message ?? "compiled")")
        }
    }

    @Test("GroupNormalization scale layout follows the opset")
    func groupNormalizationLayout() throws {
        // x [1, 4, 1]: groups of two channels with values (1, 3) and (2, 6): normalised to (−1, 1).
        let x: [Float] = [1, 3, 2, 6]
        let perGroup = try Self.run("GroupNormalization", opset: 18, x: x, shape: [1, 4, 1],
                                    constants: [Tensor(shape: [2], values: [2, 3]), Tensor(shape: [2], values: [0, 10])],
                                    attributes: ["num_groups": .int(2), "epsilon": .float(0)]).1
        #expect(perGroup == [-2, 2, 7, 13])
        let perChannel = try Self.run("GroupNormalization", opset: 21, x: x, shape: [1, 4, 1],
                                      constants: [Tensor(shape: [4], values: [1, 2, 3, 4]), Tensor(shape: [4], values: [0, 0, 10, 10])],
                                      attributes: ["num_groups": .int(2), "epsilon": .float(0)]).1
        #expect(perChannel == [-1, 2, 7, 14])
    }
}
