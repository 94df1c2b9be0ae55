/// Index of a value (an edge) in a `Graph`.
public typealias ValueID = Int

/// An attribute value of a node, decoded from ONNX.
public enum Attribute: Sendable, Equatable {
    case int(Int)
    case ints([Int])
    case float(Float)
    case floats([Float])
    case string(String)
    case strings([String])
    case tensor(Tensor)
    /// Graph-valued and other attribute kinds qscope does not execute (If/Loop bodies, sparse tensors).
    case unsupported(String)
}

/// One operation of the graph. Inputs refer to values; an empty optional input is `nil`.
public struct Node: Sendable, Equatable {
    /// ONNX node name; when the file leaves it empty the loader names it `<OpType>_<index>`.
    public var name: String
    public var opType: String
    /// ONNX domain ("" or "ai.onnx" for the default operator set).
    public var domain: String
    public var inputs: [ValueID?]
    public var outputs: [ValueID]
    public var attributes: [String: Attribute]

    public init(name: String, opType: String, domain: String = "", inputs: [ValueID?], outputs: [ValueID],
                attributes: [String: Attribute] = [:]) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// `"OpType 'name'"`, the way errors and listings name a node.
    public var label: String { "\(opType) '\(name)'" }
}

/// The declared type of a graph input or output: element type and dims (`nil` = symbolic or
/// unknown, e.g. the batch dimension `N`).
public struct ValueSpec: Sendable, Equatable {
    public var name: String
    public var dataType: DataType
    public var dims: [Int?]
    /// The symbolic names of the dims where the file gives one (`dim_param`), else nil.
    public var dimNames: [String?]

    public init(name: String, dataType: DataType, dims: [Int?], dimNames: [String?]? = nil) {
        self.name = name
        self.dataType = dataType
        self.dims = dims
        self.dimNames = dimNames ?? dims.map { _ in nil }
    }

    /// Shape as text, symbolic dims by name: `[N, 1, 28, 28]`.
    public var shapeText: String {
        let parts = zip(dims, dimNames).map { dim, name in dim.map(String.init) ?? name ?? "?" }
        return "[" + parts.joined(separator: ", ") + "]"
    }
}

/// A computation graph in qscope's IR: values are numbered, nodes refer to them by number.
///
/// Invariants kept by every transformation: `nodes` is topologically sorted; every value has at most
/// one producer (a node output, a graph input or a constant); `constants` and graph inputs are
/// disjoint.
public struct Graph: Sendable {
    /// Value names, indexed by `ValueID` (ONNX edge names; folded and renamed values keep theirs).
    public var valueNames: [String]
    public var nodes: [Node]
    public var inputs: [ValueSpec]
    public var inputIDs: [ValueID]
    public var outputs: [ValueSpec]
    public var outputIDs: [ValueID]
    /// Initializers, `Constant` node values and folded results.
    public var constants: [ValueID: Tensor]
    /// Default opset version of the ai.onnx domain.
    public var opset: Int

    public init(opset: Int) {
        self.valueNames = []
        self.nodes = []
        self.inputs = []
        self.inputIDs = []
        self.outputs = []
        self.outputIDs = []
        self.constants = [:]
        self.opset = opset
    }

    /// Adds a value and returns its id.
    public mutating func addValue(named name: String) -> ValueID {
        valueNames.append(name)
        return valueNames.count - 1
    }

    /// For every value, the indices of the nodes that read it (graph outputs are not counted).
    public func consumers() -> [[Int]] {
        var result = Array(repeating: [Int](), count: valueNames.count)
        for (index, node) in nodes.enumerated() {
            for case let input? in node.inputs { result[input].append(index) }
        }
        return result
    }

    /// For every value, the index of the node producing it, or nil.
    public func producers() -> [Int?] {
        var result = [Int?](repeating: nil, count: valueNames.count)
        for (index, node) in nodes.enumerated() {
            for output in node.outputs { result[output] = index }
        }
        return result
    }
}
