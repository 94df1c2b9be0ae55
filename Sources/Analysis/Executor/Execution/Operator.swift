/// The static type of a value in a compiled graph: its declared element type and concrete shape.
public struct ValueType: Sendable, Equatable, CustomStringConvertible {
    public var dataType: DataType
    public var shape: [Int]

    public init(_ dataType: DataType, _ shape: [Int]) {
        self.dataType = dataType
        self.shape = shape
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var description: String { "\(dataType)[" + shape.map(String.init).joined(separator: ",") + "]" }
}

/// Pointers an operator reads and writes during one forward pass.
///
/// All run-time values are float32 (integer and bool values are stored as exact small floats; see
/// `DataType`). Pointers stay valid for the lifetime of the compiled graph; the table is built once,
/// so a forward pass allocates nothing.
public struct OperatorIO {
    let inputTable: UnsafePointer<UnsafeMutablePointer<Float>?>
    /// Entries in `inputTable` (the node's input count; optional inputs past it are absent).
    let inputCount: Int
    let outputTable: UnsafePointer<UnsafeMutablePointer<Float>>
    /// Scratch space of at least the operator's `workspaceCount` floats, shared by all operators.
    public let workspace: UnsafeMutablePointer<Float>
    /// How many threads the operator may use.
    public let threads: Int
    /// Where a run-time fault (an index out of range) is recorded; nil when the operator runs outside
    /// a compiled graph (constant folding, index maps), where such indices were rejected at compile time.
    var faultRecord: UnsafeMutablePointer<RuntimeFaultRecord>? = nil
    /// The graph node the operator runs for (named in a fault's message).
    var nodeIndex: Int = -1

    /// Records that `index` is out of range for `axis` of size `size`, unless a fault is already
    /// recorded (the first one is the one reported). The operator then writes 0 for the element
    /// instead of reading out of bounds; `CompiledGraph.takeRuntimeFault` turns the record into an error.
    @inline(__always) func reportIndexOutOfRange(_ index: Int64, axis: Int, size: Int) {
        guard let faultRecord, !faultRecord.pointee.occurred else { return }
        faultRecord.pointee = RuntimeFaultRecord(occurred: true, nodeIndex: nodeIndex, index: index, axis: axis, axisSize: size)
    }

    /// Input `index`; nil for an absent optional input.
    @inline(__always) public func optionalInput(_ index: Int) -> UnsafePointer<Float>? {
        index < inputCount ? inputTable[index].map { UnsafePointer($0) } : nil
    }
    /// Input `index`, which the operator's builder checked to be present.
    @inline(__always) public func input(_ index: Int) -> UnsafePointer<Float> { UnsafePointer(inputTable[index]!) }
    @inline(__always) public func output(_ index: Int) -> UnsafeMutablePointer<Float> { outputTable[index] }
}

/// The first run-time fault of a forward pass, as plain values so that recording it allocates nothing.
struct RuntimeFaultRecord {
    var occurred = false
    var nodeIndex = -1
    /// The offending index as the graph gave it (before wrapping a negative one).
    var index: Int64 = 0
    var axis = 0
    var axisSize = 0
}

/// Resolves an index read from a float buffer (int64 values are stored as exact floats) against an
/// axis of `size`: negative indices count from the end. Nil when out of range or not a number, never
/// a trap (a NaN or huge value cannot be converted to Int).
@inline(__always) func resolveIndex(_ value: Float, size: Int) -> Int? {
    guard value > -Float(size) - 0.5, value < Float(size) else { return nil }
    let index = Int(value)
    let wrapped = index < 0 ? index + size : index
    return wrapped >= 0 && wrapped < size ? wrapped : nil
}

/// The index value to name in a fault message (clamped to the Int64 range, NaN as Int64.min).
@inline(__always) func reportedIndex(_ value: Float) -> Int64 {
    guard !value.isNaN else { return .min }
    return Int64(Swift.min(Swift.max(Double(value), -9.2e18), 9.2e18))
}

/// A node compiled for concrete input shapes: knows its output types and computes them.
///
/// Operators are values built by an `OperatorBuilder` from a node, its input types and the inputs that
/// are constant at compile time (shape parameters, weights). Reverse mode (gradients, Hessian-vector
/// products) is added beside `forward` in the same type.
public protocol Operator: Sendable {
    /// Types of the node's outputs, in order.
    var outputTypes: [ValueType] { get }
    /// Scratch floats `forward` needs (0 by default).
    var workspaceCount: Int { get }
    /// Computes the outputs from the inputs. Must not allocate in steady state when avoidable.
    func forward(_ io: OperatorIO)
    /// Drops anything derived from a constant input's buffer (e.g. prepacked weights); called when
    /// `CompiledGraph.substitute` rewires one. Caches keyed by address alone are not enough: a
    /// freed substitute's address may be handed out again for different values.
    func invalidateCaches()
}

extension Operator {
    public var workspaceCount: Int { 0 }
    public func invalidateCaches() {}
}

/// What an operator's builder knows about the node at compile time.
public struct OperatorContext {
    public let node: Node
    /// Types of the inputs; nil for an absent optional input.
    public let inputTypes: [ValueType?]
    /// Values of the inputs that are constant at compile time.
    public let constants: [Tensor?]
    /// ai.onnx opset version of the model.
    public let opset: Int

    public var inputCount: Int { node.inputs.count }

    /// Whether input `index` is given (not past the end, not an empty name).
    public func has(_ index: Int) -> Bool { index < inputTypes.count && inputTypes[index] != nil }

    /// The type of input `index`, or an error naming the node when it is absent.
    public func type(_ index: Int) throws -> ValueType {
        guard has(index), let type = inputTypes[index] else {
            throw QScopeError("\(node.label): input \(index) is missing")
        }
        return type
    }

    public func shape(_ index: Int) throws -> [Int] { try type(index).shape }

    /// The compile-time value of input `index`; an error when it is computed at run time.
    public func constant(_ index: Int, _ what: String) throws -> Tensor {
        guard index < constants.count, let value = constants[index] else {
            throw QScopeError("\(node.label): \(what) (input \(index)) is computed at run time; qscope needs it constant")
        }
        return value
    }

    /// The compile-time value of an optional input, nil when absent.
    public func optionalConstant(_ index: Int, _ what: String) throws -> Tensor? {
        guard has(index) else { return nil }
        return try constant(index, what)
    }

    public func int(_ name: String, _ defaultValue: Int) throws -> Int {
        switch node.attributes[name] {
        case nil: return defaultValue
        case .int(let v)?: return v
        default: throw QScopeError("\(node.label): attribute '\(name)' must be an int")
        }
    }

    public func optionalInts(_ name: String) throws -> [Int]? {
        switch node.attributes[name] {
        case nil: return nil
        case .ints(let v)?: return v
        case .int(let v)?: return [v]
        default: throw QScopeError("\(node.label): attribute '\(name)' must be a list of ints")
        }
    }

    public func ints(_ name: String, _ defaultValue: [Int]) throws -> [Int] { try optionalInts(name) ?? defaultValue }

    public func float(_ name: String, _ defaultValue: Float) throws -> Float {
        switch node.attributes[name] {
        case nil: return defaultValue
        case .float(let v)?: return v
        case .int(let v)?: return Float(v)
        default: throw QScopeError("\(node.label): attribute '\(name)' must be a float")
        }
    }

    public func string(_ name: String, _ defaultValue: String) throws -> String {
        switch node.attributes[name] {
        case nil: return defaultValue
        case .string(let v)?: return v
        default: throw QScopeError("\(node.label): attribute '\(name)' must be a string")
        }
    }

    /// An error naming the node.
    public func failure(_ message: String) -> QScopeError { QScopeError("\(node.label): \(message)") }

    /// Normalises a possibly negative axis against `rank`, or fails naming the node.
    public func axis(_ axis: Int, rank: Int) throws -> Int {
        let normalized = axis < 0 ? axis + rank : axis
        guard normalized >= 0 && normalized < Swift.max(rank, 1) else {
            throw failure("axis \(axis) is out of range for rank \(rank)")
        }
        return normalized
    }
}
