import Analysis
import Executor

/// The workbench's update function: applies `msg` to `state` and returns the effects to run.
/// Pure: no I/O, no clocks, no terminal; the runtime executes the effects.
public func reduce(_ state: inout AppState, _ msg: Msg, keymap: Keymap = .standard) -> [Effect] {
    switch msg {
    case .key(let key):
        state.notice = nil
        return reduceKey(&state, key, keymap: keymap)
    case .mouse(let event):
        return reduceMouse(&state, event) + compareFollowUp(&state)
    case .compare(let event):
        reduceCompareEvent(&state, event)
        return []
    case .resize(let size):
        state.size = size
        keepSelectionVisible(&state)
        return [.redraw]
    case .engine(let event):
        reduceEngine(&state, event)
        rememberEvaluation(&state, event)
        var effects = startSensitivityEffects(&state, after: event)
        if case .finished = event, event.generation == state.requestedGeneration { effects += prefetchEffects(state) }
        return effects
    case .sensitivity(let event):
        reduceSensitivity(&state, event)
        return tradeoffFollowUp(&state)
    case .tradeoff(let event):
        return reduceTradeoffEvent(&state, event)
    case .planSaved(let plan, let path):
        reducePlanSaved(&state, plan, path: path)
        return []
    case .planLoaded(let plan, let path, let warning):
        return reducePlanLoaded(&state, plan, path: path, warning: warning)
    case .exported(let outcome):
        reduceExported(&state, outcome)
        return []
    case .planSaveFailed(let message), .planLoadFailed(let message), .exportFailed(let message):
        reduceFileFailure(&state, message: message)
        return []
    }
}

/// A key: resolved through the tables of the active contexts (`AppState.keyContexts`) and handed
/// to the part of the reducer that owns the context that bound it. Unbound keys do nothing.
func reduceKey(_ state: inout AppState, _ key: Key, keymap: Keymap) -> [Effect] {
    guard let resolved = keymap.resolve(key, in: state.keyContexts) else { return [] }
    let action = resolved.action
    // Nothing of the workbench is on screen then, so a key must not change what the user cannot see.
    if state.layout.isTooSmall, !actionsWhileTooSmall.contains(action) { return [] }
    switch resolved.context {
    case .help: return reduceHelp(&state, action, keymap: keymap)
    case .prompt: return reducePrompt(&state, action, key)
    case .confirmQuit: return reduceConfirmQuit(&state, action)
    case .exportDialog: return reduceExportDialog(&state, action, key)
    // The Compare view's own keys: moving to another layer there restarts the comparison itself.
    case .compare: return reduceCompareAction(&state, action)
    case .layers, .tradeoff, .global: return reduceAction(&state, action) + compareFollowUp(&state)
    }
}

/// The keys that act while the terminal is below the minimum size (`ScreenLayout.isTooSmall`): they
/// need nothing on screen. Quitting (and answering the unsaved-changes question with y or any other
/// key), help, and redraw; every edit, move and file action waits until the panels are back.
let actionsWhileTooSmall: Set<Action> = [.quit, .quitWithoutSaving, .cancel, .toggleHelp, .closeHelp, .redraw]

/// The action of a key in the main view.
func reduceAction(_ state: inout AppState, _ action: Action) -> [Effect] {
    let count = state.model.layers.count
    let page = max(1, state.layout.visibleLayerRows)
    switch action {
    case .selectPrevious, .selectNext, .pageUp, .pageDown, .selectFirst, .selectLast:
        let before = state.selection
        // Moves go by table row: with a sort order other than the model's, row ≠ layer index.
        let order = state.layerOrder
        let row = state.row(of: state.selection, in: order)
        switch action {
        case .selectPrevious: select(&state, row: row - 1, in: order)
        case .selectNext: select(&state, row: row + 1, in: order)
        case .pageUp: select(&state, row: row - page, in: order)
        case .pageDown: select(&state, row: row + page, in: order)
        case .selectFirst: select(&state, row: 0, in: order)
        default: select(&state, row: count - 1, in: order)
        }
        return state.selection != before ? prefetchEffects(state) : []
    case .bitsUp, .bitsDown:
        guard count > 0 else { return [] }
        var plan = state.plan
        let current = plan.choices[state.selection].weights
        plan.choices[state.selection].weights = action == .bitsUp ? WeightBitsLadder.up(current) : WeightBitsLadder.down(current)
        return replacePlan(&state, with: plan)
    case .applyBitsToAll:
        guard count > 0 else { return [] }
        var plan = state.plan
        let spec = plan.choices[state.selection].weights
        for i in plan.choices.indices { plan.choices[i].weights = spec }
        return replacePlan(&state, with: plan)
    case .undo:
        guard let previous = state.undoStack.popLast() else {
            state.notice = Notice("nothing to undo")
            return []
        }
        state.redoStack.append(state.plan)
        state.plan = previous
        return requestEvaluation(&state)
    case .redo:
        guard let next = state.redoStack.popLast() else {
            state.notice = Notice("nothing to redo")
            return []
        }
        state.undoStack.append(state.plan)
        state.plan = next
        return requestEvaluation(&state)
    case .save:
        state.overlay = .prompt(Prompt(.savePlan, text: state.planPath))
    case .load:
        state.overlay = .prompt(Prompt(.loadPlan, text: state.planPath))
    case .cycleSort:
        cycleSort(&state)
    case .cycleTheme:
        state.themeIndex = (state.themeIndex + 1) % max(1, state.themeNames.count)
        state.notice = Notice("theme \(state.themeNames[state.themeIndex])")
        return [.applyTheme(index: state.themeIndex)]
    case .toggleHelp:
        state.overlay = .help
    case .redraw:
        return [.redraw]
    case .quit:
        if state.hasUnsavedChanges {
            state.overlay = .confirmQuit
            return []
        }
        state.quitting = true
        return [.quit]
    case .allocate, .toggleTradeoff, .export:
        return reduceTradeoffAction(&state, action)
    case .openCompare, .toggleSplit, .compareUp, .compareDown, .compareApply, .closeCompare, .comparePreviousLayer,
         .compareNextLayer:
        return reduceCompareAction(&state, action)
    case .helpLineUp, .helpLineDown, .helpPageUp, .helpPageDown, .closeHelp, .confirm, .cancel, .deleteBackward,
         .clearText, .typeText, .nextFormat, .previousFormat, .quitWithoutSaving, .saveBeforeQuit:
        // Actions of the overlays: only their own tables bind them (Reducer+Overlays.swift).
        return []
    }
    return []
}

func reduceMouse(_ state: inout AppState, _ event: MouseEvent) -> [Effect] {
    if state.layout.isTooSmall { return [] }
    guard state.overlay == nil else {
        if event.kind == .press, state.overlay == .help { state.overlay = nil }
        return []
    }
    let layout = state.layout
    let count = state.model.layers.count
    switch event.kind {
    case .press:
        let rows = layout.layerRows
        guard rows.contains(x: event.x, y: event.y) else { return [] }
        let order = state.layerOrder
        let row = state.scroll + (event.y - rows.y)
        if row < count, order[row] != state.selection {
            select(&state, row: row, in: order)
            return prefetchEffects(state)
        }
    case .wheelUp, .wheelDown:
        let step = event.kind == .wheelUp ? -3 : 3
        let maxScroll = max(0, count - layout.visibleLayerRows)
        state.scroll = min(max(0, state.scroll + step), maxScroll)
        // Keep the selection on screen so that keys act on a visible row.
        let order = state.layerOrder
        guard !order.isEmpty else { return [] }
        let last = state.scroll + max(1, layout.visibleLayerRows) - 1
        state.selection = order[min(max(state.row(of: state.selection, in: order), state.scroll), min(last, count - 1))]
    }
    return []
}

func reduceEngine(_ state: inout AppState, _ event: EngineEvent) {
    // Results of superseded requests are dropped (the engine cancels them; this is the second belt).
    guard event.generation == state.requestedGeneration else { return }
    switch event {
    case .started:
        state.engine = .running(done: 0, total: 0)
    case .progress(_, let done, let total):
        state.engine = .running(done: done, total: total)
    case .finished(_, let evaluation):
        state.engine = .idle
        state.evaluation = evaluation
        state.engineError = nil
    case .failed(_, let message):
        state.engine = .idle
        state.engineError = message
    }
}

/// When the engine is idle and nothing modal is open, the edits the user most likely makes next,
/// most likely first: the selected layer one step down and one step up the bits ladder (down first:
/// lowering bits is the usual next move), then the next layer's and the previous layer's step down
/// (walking the table edit by edit). A neighbour's edit is what costs most when it comes straight
/// after a move (it resumes at that layer: near the input, the whole network), and the prefetch
/// list is replaced, not appended to, on every move, so the neighbours come after the selection's own.
func prefetchEffects(_ state: AppState) -> [Effect] {
    guard state.engine == .idle, state.evaluationIsCurrent, state.overlay == nil,
          state.selection < state.plan.count else { return [] }
    var plans: [Plan] = []
    func add(layer: Int, _ step: (QuantizerSpec?) -> QuantizerSpec?) {
        guard state.plan.choices.indices.contains(layer) else { return }
        let current = state.plan.choices[layer].weights
        let next = step(current)
        guard next != current else { return }
        var plan = state.plan
        plan.choices[layer].weights = next
        plans.append(plan)
    }
    add(layer: state.selection, WeightBitsLadder.down)
    add(layer: state.selection, WeightBitsLadder.up)
    add(layer: state.selection + 1, WeightBitsLadder.down)
    add(layer: state.selection - 1, WeightBitsLadder.down)
    return plans.isEmpty ? [] : [.prefetch(plans)]
}

/// Makes `plan` current with an undo entry, and asks for its evaluation; no-op when unchanged.
func replacePlan(_ state: inout AppState, with plan: Plan) -> [Effect] {
    guard plan != state.plan else { return [] }
    state.undoStack.append(state.plan)
    state.redoStack.removeAll()
    state.plan = plan
    return requestEvaluation(&state)
}

func requestEvaluation(_ state: inout AppState) -> [Effect] {
    state.requestedGeneration += 1
    state.engine = .queued
    state.engineError = nil
    return [.evaluate(state.plan, generation: state.requestedGeneration)]
}

/// The effects to run when the workbench opens: evaluate the initial plan.
public func initialEffects(_ state: inout AppState) -> [Effect] { requestEvaluation(&state) }

/// Selects the layer on table row `row` of `order` (clamped to the table).
func select(_ state: inout AppState, row: Int, in order: [Int]) {
    guard !order.isEmpty else { return }
    state.selection = order[min(max(0, row), order.count - 1)]
    keepSelectionVisible(&state, order: order)
}

/// Scrolls so that the selected layer's row is on screen (`order`: the table's current order).
func keepSelectionVisible(_ state: inout AppState, order: [Int]? = nil) {
    let rows = max(1, state.layout.visibleLayerRows)
    let row = state.row(of: state.selection, in: order ?? state.layerOrder)
    if row < state.scroll { state.scroll = row }
    if row >= state.scroll + rows { state.scroll = row - rows + 1 }
    state.scroll = max(0, min(state.scroll, max(0, state.model.layers.count - rows)))
}
