import Foundation
import SwiftProtobuf

/// Reads an ONNX model file (protobuf `ModelProto`) into qscope's `Graph`.
///
/// Decodes initializers (raw little-endian data or the typed fields; float32, float16, bfloat16,
/// float64, all integer types and bool; external data files, whose float32 tensors stay memory-mapped
/// (`ExternalDataFiles`, `TensorStorage`)), attributes and `Constant` nodes, names
/// unnamed nodes `<OpType>_<index>`, and sorts the nodes topologically. It does not simplify; see
/// `GraphSimplifier`. Every problem is a `QScopeError` naming the file.
public enum ONNXLoader {
    /// Loads and decodes `path`.
    public static func load(path: String) throws -> Graph {
        guard FileManager.default.fileExists(atPath: path) else {
            throw QScopeError(file: path, "no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw QScopeError(file: path, "cannot read the file (\(error.localizedDescription))")
        }
        let baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            return try decode(data, baseDirectory: baseDirectory)
        } catch let error as QScopeError {
            throw error.inFile(path)
        }
    }

    /// Decodes a serialized `ModelProto`. External tensor data is looked up relative to `baseDirectory`.
    public static func decode(_ data: Data, baseDirectory: String = ".") throws -> Graph {
        guard !data.isEmpty else { throw QScopeError("empty file, not an ONNX model") }
        let model: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 200
            model = try Onnx_ModelProto(serializedBytes: data, options: options)
        } catch {
            throw QScopeError("not a valid ONNX model: the protobuf cannot be decoded (truncated or corrupt file)")
        }
        guard model.hasGraph, model.irVersion > 0, !model.graph.output.isEmpty else {
            throw QScopeError("not a valid ONNX model: no graph, IR version or outputs (truncated or corrupt file)")
        }
        var opset = 0
        for entry in model.opsetImport where entry.domain.isEmpty || entry.domain == "ai.onnx" {
            opset = Int(entry.version)
        }
        if opset == 0 {
            throw QScopeError("the model imports no ai.onnx operator set")
        }
        var builder = GraphBuilder(proto: model.graph, opset: opset, baseDirectory: baseDirectory)
        return try builder.build()
    }
}

/// Turns a `GraphProto` into a `Graph` (one use; holds the name table while building).
private struct GraphBuilder {
    let proto: Onnx_GraphProto
    /// External data files of this load, each mapped once and shared by the tensors stored in it.
    let externalFiles: ExternalDataFiles
    var graph: Graph
    var ids: [String: ValueID] = [:]

    init(proto: Onnx_GraphProto, opset: Int, baseDirectory: String) {
        self.proto = proto
        self.externalFiles = ExternalDataFiles(baseDirectory: baseDirectory)
        self.graph = Graph(opset: opset)
    }

    mutating func id(_ name: String) -> ValueID {
        if let existing = ids[name] { return existing }
        let new = graph.addValue(named: name)
        ids[name] = new
        return new
    }

    mutating func build() throws -> Graph {
        for initializer in proto.initializer {
            let tensor = try TensorDecoder.decode(initializer, externalFiles: externalFiles)
            graph.constants[id(initializer.name)] = tensor
        }
        for sparse in proto.sparseInitializer {
            throw QScopeError("sparse initializer '\(sparse.values.name)' is not supported")
        }
        for input in proto.input {
            let value = id(input.name)
            if graph.constants[value] != nil { continue }  // an initializer with a default: a constant
            graph.inputs.append(try spec(input))
            graph.inputIDs.append(value)
        }
        var pending: [Node] = []
        for (index, nodeProto) in proto.node.enumerated() {
            let name = nodeProto.name.isEmpty ? "\(nodeProto.opType)_\(index)" : nodeProto.name
            var attributes: [String: Attribute] = [:]
            for attribute in nodeProto.attribute {
                attributes[attribute.name] = try decodeAttribute(attribute, node: name)
            }
            let inputs: [ValueID?] = nodeProto.input.map { $0.isEmpty ? nil : id($0) }
            let outputs: [ValueID] = nodeProto.output.map { id($0) }
            let isDefaultDomain = nodeProto.domain.isEmpty || nodeProto.domain == "ai.onnx"
            if nodeProto.opType == "Constant" && isDefaultDomain, let output = outputs.first {
                graph.constants[output] = try constantValue(attributes, node: name)
                continue
            }
            pending.append(Node(name: name, opType: nodeProto.opType, domain: nodeProto.domain,
                                inputs: inputs, outputs: outputs, attributes: attributes))
        }
        for output in proto.output {
            graph.outputs.append(try spec(output))
            graph.outputIDs.append(id(output.name))
        }
        graph.nodes = try topologicallySorted(pending)
        return graph
    }

    /// Kahn's algorithm, stable with respect to file order; fails on cycles and undefined inputs.
    func topologicallySorted(_ nodes: [Node]) throws -> [Node] {
        var available = Set(graph.inputIDs).union(graph.constants.keys)
        var producedBy: [ValueID: Int] = [:]
        for (index, node) in nodes.enumerated() {
            for output in node.outputs { producedBy[output] = index }
        }
        for node in nodes {
            for case let input? in node.inputs where !available.contains(input) && producedBy[input] == nil {
                throw QScopeError("\(node.label) reads '\(graph.valueNames[input])', which no node, input or initializer defines")
            }
        }
        var sorted: [Node] = []
        sorted.reserveCapacity(nodes.count)
        var done = [Bool](repeating: false, count: nodes.count)
        var progress = true
        while sorted.count < nodes.count && progress {
            progress = false
            for (index, node) in nodes.enumerated() where !done[index] {
                if node.inputs.allSatisfy({ $0 == nil || available.contains($0!) }) {
                    done[index] = true
                    sorted.append(node)
                    available.formUnion(node.outputs)
                    progress = true
                }
            }
        }
        if sorted.count < nodes.count, let stuck = nodes.indices.first(where: { !done[$0] }) {
            throw QScopeError("the graph has a cycle through \(nodes[stuck].label)")
        }
        return sorted
    }

    func spec(_ info: Onnx_ValueInfoProto) throws -> ValueSpec {
        let tensorType = info.type.tensorType
        guard let dataType = DataType(rawValue: Int(tensorType.elemType)) else {
            throw QScopeError("value '\(info.name)' has unsupported element type \(tensorType.elemType)")
        }
        var dims: [Int?] = []
        var names: [String?] = []
        for dim in tensorType.shape.dim {
            switch dim.value {
            case .dimValue(let value)? where value > 0:
                dims.append(Int(value))
                names.append(nil)
            case .dimParam(let param)?:
                dims.append(nil)
                names.append(param.isEmpty ? nil : param)
            default:
                dims.append(nil)
                names.append(nil)
            }
        }
        return ValueSpec(name: info.name, dataType: dataType, dims: dims, dimNames: names)
    }

    func decodeAttribute(_ attribute: Onnx_AttributeProto, node: String) throws -> Attribute {
        switch attribute.type {
        case .int: return .int(Int(clamping: attribute.i))
        case .ints: return .ints(attribute.ints.map { Int(clamping: $0) })
        case .float: return .float(attribute.f)
        case .floats: return .floats(attribute.floats)
        case .string: return .string(String(decoding: attribute.s, as: UTF8.self))
        case .strings: return .strings(attribute.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor: return .tensor(try TensorDecoder.decode(attribute.t, externalFiles: externalFiles))
        default: return .unsupported("\(attribute.type)")
        }
    }

    /// The value of a `Constant` node (`value`, `value_float(s)`, `value_int(s)`).
    func constantValue(_ attributes: [String: Attribute], node: String) throws -> Tensor {
        switch (attributes["value"], attributes["value_float"], attributes["value_floats"],
                attributes["value_int"], attributes["value_ints"]) {
        case (.tensor(let t)?, _, _, _, _): return t
        case (_, .float(let f)?, _, _, _): return Tensor(shape: [], values: [f])
        case (_, _, .floats(let f)?, _, _): return Tensor(shape: [f.count], values: f)
        case (_, _, _, .int(let i)?, _): return Tensor(shape: [], integers: [Int64(i)])
        case (_, _, _, _, .ints(let i)?): return Tensor(shape: [i.count], integers: i.map(Int64.init))
        default: throw QScopeError("Constant '\(node)' has no value attribute qscope supports")
        }
    }
}
