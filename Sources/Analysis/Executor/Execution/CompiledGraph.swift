import Dispatch
import Kernels

/// A graph compiled for concrete input shapes: shapes inferred, shape sub-graphs folded, operators
/// built, and every run-time value given a fixed place in one arena.
///
/// Forward passes reuse the arena and the pointer tables, so steady-state evaluation allocates
/// nothing. A compiled graph is used by one thread at a time (it owns mutable buffers); compile one
/// per batch size and per thread. Weights are read through the pointer tables, so a layer's weight can
/// be substituted (`substitute(_:with:)`) without copying the model.
public final class CompiledGraph: @unchecked Sendable {
    /// One operator invocation.
    struct Step {
        let nodeIndex: Int
        let op: Operator
        let inputs: [ValueID?]
        let outputs: [ValueID]
        let inputTable: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
        let outputTable: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    }

    public let graph: Graph
    /// Static types of all values (nil for values that are never computed, e.g. unused outputs).
    public private(set) var types: [ValueType?]
    /// Constants after compile-time folding (initializers plus folded shape arithmetic).
    public private(set) var constants: [ValueID: Tensor]
    public let inputTypes: [ValueType]
    public private(set) var outputTypes: [ValueType] = []
    /// How many threads operators may use.
    public let threads: Int

    private(set) var steps: [Step] = []
    /// Run-time values: offset into the arena, in floats.
    private var arenaOffsets: [ValueID: Int] = [:]
    private var arena: UnsafeMutablePointer<Float>
    private var arenaCount = 0
    private(set) var workspace: UnsafeMutablePointer<Float>
    private var constantBuffers: [ValueID: UnsafeMutablePointer<Float>] = [:]
    /// Values that are views of another value's buffer (Reshape-like steps), mapped to that value.
    private(set) var viewSources: [ValueID: ValueID] = [:]
    /// Buffers installed by `substitute`, owned by the caller.
    private var substituted: [ValueID: UnsafePointer<Float>] = [:]
    /// Per graph input, the pointer-table slots that read it (directly or through a view): `run`
    /// points them at the caller's buffer for one pass instead of copying the input into the arena.
    private var inputReaders: [[UnsafeMutablePointer<UnsafeMutablePointer<Float>?>]] = []
    /// Whether `run` may read the inputs in place: not when values are retained (reverse mode and
    /// calibration read the input's arena buffer after the pass) nor when a graph output is an input
    /// or a view of one (`output` reads the arena).
    private var borrowsInputs = false
    /// The first run-time fault since the last `takeRuntimeFault` (one record, written by operators
    /// without allocating).
    private let faultRecord: UnsafeMutablePointer<RuntimeFaultRecord> = {
        let record = UnsafeMutablePointer<RuntimeFaultRecord>.allocate(capacity: 1)
        record.initialize(to: RuntimeFaultRecord())
        return record
    }()

    /// Compiles `graph` for inputs of `inputShapes` (one per graph input, in order).
    ///
    /// - Parameter retainAll: keep every intermediate value alive until the end of the pass (reverse
    ///   mode needs them); otherwise buffers are reused as soon as their last reader has run.
    public init(graph: Graph, inputShapes: [[Int]], threads: Int = Parallel.maxThreads, retainAll: Bool = false) throws {
        guard inputShapes.count == graph.inputIDs.count else {
            throw QScopeError("the model has \(graph.inputIDs.count) inputs, \(inputShapes.count) shapes given")
        }
        self.graph = graph
        self.threads = max(1, threads)
        self.types = Array(repeating: nil, count: graph.valueNames.count)
        self.constants = graph.constants
        self.inputTypes = zip(graph.inputs, inputShapes).map { ValueType($0.dataType, $1) }
        self.arena = .allocate(capacity: 1)
        self.workspace = .allocate(capacity: 1)
        for (id, type) in zip(graph.inputIDs, inputTypes) { types[id] = type }
        for (id, tensor) in constants { types[id] = ValueType(tensor.dataType, tensor.shape) }

        var builtSteps: [BuiltStep] = []
        for (index, node) in graph.nodes.enumerated() {
            guard let builder = OperatorRegistry.builder(for: node) else {
                throw QScopeError("unsupported op \(node.opType) in node '\(node.name)'")
            }
            let context = OperatorContext(node: node, inputTypes: node.inputs.map { $0.flatMap { types[$0] } },
                                          constants: node.inputs.map { $0.flatMap { constants[$0] } }, opset: graph.opset)
            for (i, input) in node.inputs.enumerated() where input != nil && context.inputTypes[i] == nil {
                throw QScopeError("\(node.label): input '\(graph.valueNames[input!])' has no known shape")
            }
            let op = try builder(context)
            guard op.outputTypes.count >= node.outputs.count else {
                throw context.failure("produces \(op.outputTypes.count) outputs, the node names \(node.outputs.count)")
            }
            let allConstant = node.inputs.allSatisfy { $0 == nil || constants[$0!] != nil }
            if let constant = op as? ConstantOperator {
                constants[node.outputs[0]] = constant.value
            } else if allConstant && !node.inputs.isEmpty {
                let folded = try ConstantFolder.evaluate(op, inputs: context.constants, outputCount: node.outputs.count)
                for (id, tensor) in zip(node.outputs, folded) { constants[id] = tensor }
            } else {
                builtSteps.append(BuiltStep(nodeIndex: index, op: op, inputs: node.inputs, outputs: node.outputs))
            }
            for (id, type) in zip(node.outputs, op.outputTypes) { types[id] = type }
        }
        outputTypes = try graph.outputIDs.map { id in
            guard let type = types[id] else { throw QScopeError("output '\(graph.valueNames[id])' is never computed") }
            return type
        }
        if !retainAll { builtSteps = fuseConvMaxPool(builtSteps) }
        try planMemory(builtSteps, retainAll: retainAll)
    }

    deinit {
        for step in steps {
            step.inputTable.deallocate()
            step.outputTable.deallocate()
        }
        arena.deallocate()
        workspace.deallocate()
        for buffer in constantBuffers.values { buffer.deallocate() }
        faultRecord.deallocate()
    }

    /// Assigns arena offsets by first fit over value lifetimes, then builds the pointer tables.
    ///
    /// Reshape-like steps (`CopyOperator`: same elements, new shape) are not run: their output is a
    /// view of their input's buffer, whose lifetime is extended to cover the view's readers. Values are
    /// never written after they are produced, so sharing a buffer is safe.
    private func planMemory(_ allBuilt: [BuiltStep], retainAll: Bool) throws {
        var alias: [ValueID: ValueID] = [:]
        var built: [BuiltStep] = []
        for step in allBuilt {
            if step.op is CopyOperator, let source = step.inputs.first ?? nil, constants[source] == nil, step.outputs.count == 1 {
                alias[step.outputs[0]] = alias[source] ?? source
            } else {
                built.append(step)
            }
        }
        func root(_ id: ValueID) -> ValueID { alias[id] ?? id }
        var firstUse: [ValueID: Int] = [:], lastUse: [ValueID: Int] = [:]
        for id in graph.inputIDs { firstUse[id] = 0 }
        for (stepIndex, step) in built.enumerated() {
            for case let id? in step.inputs where constants[id] == nil { lastUse[root(id)] = stepIndex }
            for id in step.outputs where firstUse[id] == nil { firstUse[id] = stepIndex }
        }
        let end = built.count
        for id in graph.outputIDs where constants[id] == nil { lastUse[root(id)] = end }
        if retainAll { for id in firstUse.keys { lastUse[id] = end } }

        struct Block { let offset: Int; let size: Int; let last: Int }
        var live: [Block] = []
        var total = 0
        let ordered = firstUse.keys.sorted { (firstUse[$0]!, $0) < (firstUse[$1]!, $1) }
        for id in ordered {
            guard let type = types[id] else { continue }
            let start = firstUse[id]!
            let size = (max(type.count, 1) + 15) & ~15  // 64-byte multiples keep rows aligned
            live.removeAll { $0.last < start }
            live.sort { $0.offset < $1.offset }
            var offset = 0
            for block in live {
                if offset + size <= block.offset { break }
                offset = max(offset, block.offset + block.size)
            }
            live.append(Block(offset: offset, size: size, last: lastUse[id] ?? start))
            arenaOffsets[id] = offset
            total = max(total, offset + size)
        }
        for (view, source) in alias { arenaOffsets[view] = arenaOffsets[source] }
        viewSources = alias
        arena.deallocate()
        arenaCount = total
        arena = .allocate(capacity: max(total, 1))
        arena.initialize(repeating: 0, count: max(total, 1))

        var workspaceCount = 1
        for step in built {
            let nodeIndex = step.nodeIndex, op = step.op
            let node = (inputs: step.inputs, outputs: step.outputs)
            workspaceCount = max(workspaceCount, op.workspaceCount)
            let inputTable = UnsafeMutablePointer<UnsafeMutablePointer<Float>?>.allocate(capacity: max(node.inputs.count, 1))
            let outputTable = UnsafeMutablePointer<UnsafeMutablePointer<Float>>.allocate(capacity: max(op.outputTypes.count, 1))
            for (i, input) in node.inputs.enumerated() { inputTable[i] = input.map { pointer(for: $0) } }
            var scratchOutputs: [UnsafeMutablePointer<Float>] = []
            for i in 0..<op.outputTypes.count {
                if i < node.outputs.count, arenaOffsets[node.outputs[i]] != nil {
                    outputTable[i] = arena + arenaOffsets[node.outputs[i]]!
                } else {
                    // An output nobody reads (e.g. Dropout's mask): give it a private buffer.
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(op.outputTypes[i].count, 1))
                    scratchOutputs.append(scratch)
                    outputTable[i] = scratch
                }
            }
            for (n, scratch) in scratchOutputs.enumerated() { constantBuffers[-1 - nodeIndex * 16 - n] = scratch }
            steps.append(Step(nodeIndex: nodeIndex, op: op, inputs: node.inputs, outputs: node.outputs,
                              inputTable: inputTable, outputTable: outputTable))
        }
        workspace.deallocate()
        workspace = .allocate(capacity: workspaceCount)
        workspace.initialize(repeating: 0, count: workspaceCount)

        inputReaders = graph.inputIDs.map { inputID in
            steps.flatMap { step in
                step.inputs.indices.filter { step.inputs[$0].map(root) == inputID }.map { step.inputTable + $0 }
            }
        }
        let inputSet = Set(graph.inputIDs)
        borrowsInputs = !retainAll && !graph.outputIDs.contains { inputSet.contains(root($0)) }
    }

    /// The buffer holding a value: the arena for run-time values, a private copy for constants, or
    /// for a constant that lives in a mapped file the mapping itself.
    ///
    /// A mapped constant is read in place (no copy of a weight that may be hundreds of MB): the
    /// tensor in `constants` keeps the mapping alive as long as this graph, and nothing writes to a
    /// constant's buffer (operators only read their inputs; `substitute` swaps the pointer instead),
    /// which matters because the mapping is read-only.
    private func pointer(for id: ValueID) -> UnsafeMutablePointer<Float> {
        if let offset = arenaOffsets[id] { return arena + offset }
        if let existing = constantBuffers[id] { return existing }
        let tensor = constants[id]!
        if let start = tensor.values.mappedBaseAddress { return UnsafeMutablePointer(mutating: start) }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(tensor.count, 1))
        tensor.values.withUnsafeBufferPointer { buffer.initialize(from: $0.baseAddress!, count: $0.count) }
        constantBuffers[id] = buffer
        return buffer
    }

    /// Floats in the activation arena (a measure of the pass's memory).
    public var arenaFloats: Int { arenaCount }

    /// Runs a forward pass. `inputs[i]` must hold `inputTypes[i].count` floats.
    ///
    /// When nothing reads the inputs after the pass (no `retainAll`, no output that is an input),
    /// the operators read the caller's buffers in place, like ONNX Runtime binding a NumPy array:
    /// for the MLP at batch 256 the copy into the arena (800 KB) was a few percent of the pass.
    /// The pointer tables point back at the arena when `run` returns, so `setInputs` and
    /// `run(steps:)` (resumed passes) are unaffected.
    public func run(_ inputs: [UnsafePointer<Float>]) {
        guard borrowsInputs else {
            setInputs(inputs)
            run(steps: 0..<steps.count)
            return
        }
        precondition(inputs.count == graph.inputIDs.count, "one buffer per graph input")
        for (readers, buffer) in zip(inputReaders, inputs) {
            for slot in readers { slot.pointee = UnsafeMutablePointer(mutating: buffer) }
        }
        defer {
            for (readers, id) in zip(inputReaders, graph.inputIDs) {
                for slot in readers { slot.pointee = arena + arenaOffsets[id]! }
            }
        }
        run(steps: 0..<steps.count)
    }

    /// Runs a forward pass like `run` and returns the wall time of each step as (node index, seconds),
    /// in execution order (for `qscope bench --profile`).
    public func runProfiled(_ inputs: [UnsafePointer<Float>]) -> [(node: Int, seconds: Double)] {
        setInputs(inputs)
        var timings: [(node: Int, seconds: Double)] = []
        timings.reserveCapacity(steps.count)
        for step in steps {
            let start = DispatchTime.now().uptimeNanoseconds
            forward(step)
            timings.append((step.nodeIndex, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
        }
        return timings
    }

    /// Runs one step's operator on its pointer tables.
    func forward(_ step: Step) {
        step.op.forward(OperatorIO(inputTable: UnsafePointer(step.inputTable), inputCount: step.inputs.count,
                                   outputTable: UnsafePointer(step.outputTable), workspace: workspace, threads: threads,
                                   faultRecord: faultRecord, nodeIndex: step.nodeIndex))
    }

    /// The first run-time fault of the passes since the last call, as an error naming the node, and
    /// clears it; nil when every pass was sound.
    ///
    /// A run-time fault is an index computed at run time that is out of range (a token id at or
    /// above the vocabulary size reaching the embedding table's Gather). `run` stays non-throwing
    /// and allocation-free: the operator writes 0 for the element it cannot read and records the
    /// fault, and callers check after a pass (`if let fault = graph.takeRuntimeFault() { throw fault }`).
    /// Outputs of a pass with a fault are not meaningful.
    public func takeRuntimeFault() -> QScopeError? {
        let record = faultRecord.pointee
        guard record.occurred else { return nil }
        faultRecord.pointee = RuntimeFaultRecord()
        let node = graph.nodes[record.nodeIndex]
        let index = record.index == .min ? "NaN" : String(record.index)
        return QScopeError("node '\(node.name)' (\(node.opType)): index \(index) is out of range for axis \(record.axis) of size \(record.axisSize)")
    }

    /// Output `index` of the last pass (valid until the next pass).
    public func output(_ index: Int) -> UnsafeBufferPointer<Float> {
        let id = graph.outputIDs[index]
        if let offset = arenaOffsets[id] {
            return UnsafeBufferPointer(start: arena + offset, count: outputTypes[index].count)
        }
        return UnsafeBufferPointer(start: pointer(for: id), count: outputTypes[index].count)
    }

    /// The buffer of any value after a pass, when it is kept (run-time values with `retainAll`, or
    /// constants); nil when the value does not exist at run time.
    public func value(_ id: ValueID) -> UnsafeBufferPointer<Float>? {
        guard let type = types[id] else { return nil }
        if let offset = arenaOffsets[id] { return UnsafeBufferPointer(start: arena + offset, count: type.count) }
        if constants[id] != nil { return UnsafeBufferPointer(start: pointer(for: id), count: type.count) }
        return nil
    }

    /// Makes every operator read `buffer` in place of the constant `id` (e.g. fake-quantized weights),
    /// without copying; `nil` restores the original. The caller keeps `buffer` alive and unchanged
    /// while the graph uses it; it must hold as many floats as the constant.
    public func substitute(_ id: ValueID, with buffer: UnsafePointer<Float>?) {
        guard constants[id] != nil else { return }
        let target = buffer.map { UnsafeMutablePointer(mutating: $0) } ?? pointer(for: id)
        if let buffer { substituted[id] = buffer } else { substituted[id] = nil }
        for step in steps where step.inputs.contains(id) {
            for (i, input) in step.inputs.enumerated() where input == id { step.inputTable[i] = target }
            step.op.invalidateCaches()
        }
    }
}
