/// Resuming a forward pass part-way: the executor side of the workbench's prefix cache.
///
/// When only layer k's weights change between two evaluations, everything computed before k's step
/// is unchanged. A caller runs a pass in two parts, `run(steps: 0..<k)` then `run(steps:
/// k..<stepCount)`, and between them saves the values that cross the boundary
/// (`liveValues(atStep: k)`; after the full pass their buffers may already be reused). Later it
/// restores them (`mutableValue`) and runs only `run(steps: k..<stepCount)`.
/// Values that cross a boundary are alive at the same time, so their buffers never overlap (except
/// views of one another, which hold the same data), and restoring them in any order is safe.
extension CompiledGraph {
    /// Number of operator invocations in a pass.
    public var stepCount: Int { steps.count }

    /// The step that runs graph node `nodeIndex`, or nil when the node was folded away at compile
    /// time (its value is a constant) or became a view of its input.
    public func stepIndex(ofNode nodeIndex: Int) -> Int? {
        steps.firstIndex { $0.nodeIndex == nodeIndex }
    }

    /// Run-time values (graph inputs or outputs of steps before `step`) that step `step` or a later
    /// step reads, or that are graph outputs: what must be in place to resume a pass at `step`.
    /// A value read through a view (Reshape-like steps are views, not steps) is listed as the value
    /// that owns the buffer. Constants are not included. `step` is in `0...stepCount`.
    public func liveValues(atStep step: Int) -> [ValueID] {
        precondition(step >= 0 && step <= steps.count, "step \(step) out of 0...\(steps.count)")
        var produced = Set(graph.inputIDs)
        for s in steps[..<step] { produced.formUnion(s.outputs) }
        var live: [ValueID] = []
        var seen = Set<ValueID>()
        func need(_ view: ValueID) {
            let id = viewSources[view] ?? view
            if produced.contains(id), constants[id] == nil, !seen.contains(id) {
                seen.insert(id)
                live.append(id)
            }
        }
        for s in steps[step...] { for case let id? in s.inputs { need(id) } }
        for id in graph.outputIDs { need(id) }
        return live
    }

    /// Writable view of a run-time value's buffer (to restore a saved boundary value); nil for
    /// constants and for values with no run-time buffer. Valid until the graph is deallocated.
    public func mutableValue(_ id: ValueID) -> UnsafeMutableBufferPointer<Float>? {
        guard let type = types[id], constants[id] == nil, let buffer = value(id) else { return nil }
        return UnsafeMutableBufferPointer(mutating: UnsafeBufferPointer(start: buffer.baseAddress, count: type.count))
    }

    /// Runs only `range` of the steps. Every value those steps read that an earlier step produces must
    /// already be in place: left there by a pass that ran the earlier steps, or restored by the caller
    /// through `mutableValue`. `run(steps: 0..<stepCount)` after writing the inputs equals `run`.
    public func run(steps range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= steps.count, "steps \(range) out of 0..<\(steps.count)")
        for step in steps[range] { forward(step) }
    }

    /// Copies `inputs` into the graph's input buffers without running anything (for `run(steps:)`).
    public func setInputs(_ inputs: [UnsafePointer<Float>]) {
        precondition(inputs.count == graph.inputIDs.count, "one buffer per graph input")
        for (i, id) in graph.inputIDs.enumerated() {
            if let target = mutableValue(id) { target.baseAddress!.update(from: inputs[i], count: inputTypes[i].count) }
        }
    }
}
