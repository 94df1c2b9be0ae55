import Executor
import Foundation
import SwiftProtobuf
import Analysis

/// Runs one ONNX backend node test (`<dir>/model.onnx` + `test_data_set_*/{input,output}_*.pb`).
///
/// Inputs whose element type is float run through the executor as run-time values. Inputs of other
/// types (int64 indices, bool conditions), and every input of a node whose builder needs an input to
/// be constant (e.g. Clip's min/max), are bound as constants, which exercises the compile-time folding
/// path with the same kernels. Outputs are compared like ONNX's backend runner: |got − want| ≤
/// atol + rtol·|want| with rtol 1e-3, atol 1e-7 (exact for integer and bool outputs).
struct ONNXNodeTestRunner {
    static let root = "/usr/share/libonnx-testdata/data/node"
    static var available: Bool { FileManager.default.fileExists(atPath: root) }
    /// Ops whose float64 node tests are claimed (run in float32, as every value is).
    static let float64Claimed: Set<String> = ["CumSum", "Einsum"]

    enum Outcome: Equatable {
        case passed(mode: String)
        /// Uses an op qscope does not claim (not in the registry) or a data type it does not compute.
        case notClaimed(String)
        case failed(String)
    }

    /// Node test folder names, sorted.
    static func allTests(root: String = root) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix("test_") }.sorted()
    }

    static func readTensor(_ path: String) throws -> Tensor {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let proto = try Onnx_TensorProto(serializedBytes: data)
        return try TensorDecoder.decode(proto, baseDirectory: "/")
    }

    static func run(_ name: String, root: String = root) -> Outcome {
        let dir = root + "/" + name
        let raw: Graph
        do {
            raw = try ONNXLoader.load(path: dir + "/model.onnx")
        } catch {
            return .notClaimed("the model does not load: \(error)")
        }
        if let node = raw.nodes.first(where: { OperatorRegistry.builder(for: $0) == nil }) {
            return .notClaimed("op \(node.opType) is not supported")
        }
        var claimedTypes: Set<DataType> = [.float32, .int64, .int32, .bool, .uint8, .int8, .int4, .uint4, .float8e4m3fn, .float8e5m2]
        // ONNX's only tests of these ops are float64; computed in float32 they still meet rtol 1e-3.
        if raw.nodes.allSatisfy({ float64Claimed.contains($0.opType) }) { claimedTypes.insert(.float64) }
        for spec in raw.inputs + raw.outputs where !claimedTypes.contains(spec.dataType) {
            return .notClaimed("value '\(spec.name)' has type \(spec.dataType)")
        }
        for (id, tensor) in raw.constants where !claimedTypes.contains(tensor.dataType) {
            return .notClaimed("constant '\(raw.valueNames[id])' has type \(tensor.dataType)")
        }
        let sets = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("test_data_set_") }.sorted()
        guard !sets.isEmpty else { return .failed("no test data") }
        var modes = Set<String>()
        for set in sets {
            do {
                let inputs = try (0..<raw.inputs.count).map { try readTensor("\(dir)/\(set)/input_\($0).pb") }
                let expected = try (0..<raw.outputs.count).map { try readTensor("\(dir)/\(set)/output_\($0).pb") }
                let (got, mode) = try execute(raw, inputs: inputs)
                modes.insert(mode)
                for (i, (want, have)) in zip(expected, got).enumerated() {
                    guard want.shape == have.shape || (want.count == have.count && want.count == 1) else {
                        return .failed("\(set) output \(i): shape \(have.shape), expected \(want.shape)")
                    }
                    let exact = want.dataType.isInteger
                    for k in 0..<want.count {
                        let w = want.values[k], h = have.values[k]
                        if w.isNaN && h.isNaN { continue }
                        if w.isInfinite && w == h { continue }
                        let tolerance: Float = exact ? 0 : 1e-7 + 1e-3 * abs(w)
                        if !(abs(w - h) <= tolerance) {
                            return .failed("\(set) output \(i)[\(k)]: got \(h), expected \(w)")
                        }
                    }
                }
            } catch {
                return .failed("\(set): \(error)")
            }
        }
        return .passed(mode: modes.sorted().joined(separator: "+"))
    }

    /// Runs the graph with float inputs at run time, or with every input bound as a constant when the
    /// graph needs that; returns the outputs and which mode ran.
    static func execute(_ raw: Graph, inputs: [Tensor]) throws -> ([Tensor], String) {
        do {
            return (try execute(raw, inputs: inputs, allConstant: false), "runtime")
        } catch let error as QScopeError where error.message.contains("needs it constant") {
            return (try execute(raw, inputs: inputs, allConstant: true), "folded")
        }
    }

    static func execute(_ raw: Graph, inputs: [Tensor], allConstant: Bool) throws -> [Tensor] {
        var graph = raw
        graph.inputs = []
        graph.inputIDs = []
        var runtimeInputs: [Tensor] = []
        for (spec, (id, tensor)) in zip(raw.inputs, zip(raw.inputIDs, inputs)) {
            if allConstant || (spec.dataType != .float32 && spec.dataType != .float64) {
                graph.constants[id] = tensor
            } else {
                graph.inputs.append(spec)
                graph.inputIDs.append(id)
                runtimeInputs.append(tensor)
            }
        }
        let model = try Model(path: "model.onnx", raw: graph)
        let compiled = try CompiledGraph(graph: model.graph, inputShapes: runtimeInputs.map(\.shape))
        let buffers = runtimeInputs.map { tensor -> UnsafeMutablePointer<Float> in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(tensor.count, 1))
            tensor.values.withUnsafeBufferPointer { buffer.initialize(from: $0.baseAddress!, count: $0.count) }
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        compiled.run(buffers.map { UnsafePointer($0) })
        return compiled.outputTypes.indices.map { i in
            let type = compiled.outputTypes[i]
            return Tensor(shape: type.shape, values: Array(compiled.output(i)))
        }
    }
}
