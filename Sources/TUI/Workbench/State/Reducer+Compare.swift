import Analysis
import Executor

// The Compare view and SplitQuant toggle: kept out of Reducer.swift so the main reducer
// only routes to these functions.

/// The Compare view's actions (the keymap's `.compare` table) and the Layers-table actions `c` and `x`.
func reduceCompareAction(_ state: inout AppState, _ action: Action) -> [Effect] {
    switch action {
    case .openCompare:
        return startCompare(&state)
    case .toggleSplit:
        return toggleSplit(&state)
    case .closeCompare:
        return closeCompare(&state)
    case .compareUp, .compareDown:
        guard var compare = state.compare, !compare.quantizers.isEmpty else { return [] }
        compare.cursor = min(max(0, compare.cursor + (action == .compareUp ? -1 : 1)), compare.quantizers.count - 1)
        state.compare = compare
        return []
    case .comparePreviousLayer, .compareNextLayer:
        // ←/→ follow the Layers table's current sort order, like ↑/↓ there.
        let order = state.layerOrder
        select(&state, row: state.row(of: state.selection, in: order) + (action == .comparePreviousLayer ? -1 : 1), in: order)
        return compareFollowUp(&state) + prefetchEffects(state)
    case .compareApply:
        guard let compare = state.compare, compare.quantizers.indices.contains(compare.cursor) else { return [] }
        guard compare.rows[compare.cursor] != nil else {
            state.notice = Notice("\(compare.quantizers[compare.cursor]) is not computed yet")
            return []
        }
        guard let spec = try? QuantizerSpec(parsing: compare.quantizers[compare.cursor]) else { return [] }
        var plan = state.plan
        plan.choices[compare.layer].weights = spec
        let effects = replacePlan(&state, with: plan)
        state.notice = Notice("\(state.model.layers[compare.layer].name): \(spec)")
        return effects + compareFollowUp(&state)
    default:
        return reduceAction(&state, action)
    }
}

/// `c`: compare the selected layer at its current bit-width (restarts when already open).
func startCompare(_ state: inout AppState) -> [Effect] {
    guard state.selection < state.plan.count else { return [] }
    let layer = state.selection
    let bits = CompareState.bits(for: state.plan.choices[layer])
    let quantizers = ((try? QuantizerComparison.specs(bits: bits)) ?? []).map(\.description)
    state.compareGeneration += 1
    var compare = CompareState(layer: layer, bits: bits, generation: state.compareGeneration, quantizers: quantizers)
    // Keep the cursor on the layer's current spec when it is one of the rows.
    if let current = state.plan.choices[layer].weights?.description, let row = quantizers.firstIndex(of: current) {
        compare.cursor = row
    }
    state.compare = compare
    return [.compareLayer(layer: layer, bits: bits, generation: compare.generation)]
}

/// Leaves the Compare view and stops its comparison.
func closeCompare(_ state: inout AppState) -> [Effect] {
    guard state.compare != nil else { return [] }
    state.compare = nil
    return [.cancelCompare]
}

/// After any edit or move while the Compare view is open: when the selected layer or its
/// bit-width changed, the comparison is restarted for it (which cancels the old one).
func compareFollowUp(_ state: inout AppState) -> [Effect] {
    guard let compare = state.compare, state.selection < state.plan.count else { return [] }
    let bits = CompareState.bits(for: state.plan.choices[state.selection])
    if compare.layer == state.selection && compare.bits == bits { return [] }
    return startCompare(&state)
}

/// `x`: `split3:SPEC` <-> `SPEC` on the selected layer, as an undoable edit.
func toggleSplit(_ state: inout AppState) -> [Effect] {
    guard state.selection < state.plan.count else { return [] }
    var plan = state.plan
    guard let spec = plan.choices[state.selection].weights else {
        state.notice = Notice("FP32 layer: choose a quantizer before splitting", isError: true)
        return []
    }
    if case .split(let inner) = spec.family {
        plan.choices[state.selection].weights = inner
    } else {
        plan.choices[state.selection].weights = QuantizerSpec(.split(spec))
    }
    return replacePlan(&state, with: plan)
}

/// Events of the comparison; those of other generations (or with the view closed) are dropped.
func reduceCompareEvent(_ state: inout AppState, _ event: CompareEvent) {
    guard var compare = state.compare, event.generation == compare.generation else { return }
    switch event {
    case .started(_, _, _, let quantizers):
        if quantizers != compare.quantizers {
            compare.quantizers = quantizers
            compare.rows = Array(repeating: nil, count: quantizers.count)
            compare.cursor = min(compare.cursor, max(0, quantizers.count - 1))
        }
    case .row(_, let index, let row):
        if compare.rows.indices.contains(index) { compare.rows[index] = row }
    case .finished:
        compare.finished = true
    case .failed(_, let message):
        compare.error = message
    }
    state.compare = compare
}
