import Analysis
import Executor

// The automatic allocation (`a`), the Trade-off pane (`T`) and the export dialog (`e`):
// kept out of Reducer.swift, which only routes here.

/// The main-view actions `a`, `T` and `e`.
func reduceTradeoffAction(_ state: inout AppState, _ action: Action) -> [Effect] {
    switch action {
    case .allocate:
        state.overlay = .prompt(Prompt(.budget, text: state.tradeoff.budgetText))
        return []
    case .toggleTradeoff:
        state.tradeoff.isVisible.toggle()
        keepSelectionVisible(&state)
        guard state.tradeoff.isVisible else { return [] }
        // The pane takes the Detail panel's place, as the Compare view does: one of them at a time.
        var effects = closeCompare(&state)
        if state.tradeoff.sweep == .notStarted || (state.sensitivity.phase == .finished && !state.tradeoff.sweptWithFinalTraces) {
            effects += startSweep(&state)
        }
        return effects
    case .export:
        state.overlay = .export(ExportDialog(modelPath: state.model.path))
        return []
    default:
        return []
    }
}

/// Enter at the budget prompt: a budget starts the allocation; anything else is a one-line error.
func submitBudget(_ state: inout AppState, _ text: String) -> [Effect] {
    let budget: SizeBudget
    do {
        budget = try BudgetInput.parse(text)
    } catch {
        state.notice = Notice(QScopeError.message(for: error), isError: true)
        return []
    }
    state.tradeoff.budgetText = text.trimmingSpaces
    return startAllocation(&state, budget: budget)
}

/// The traces per parameter of every layer, when the analysis has an estimate for all of them.
func availableTraces(_ state: AppState) -> [Double]? {
    let layers = state.sensitivity.layers
    guard !layers.isEmpty, layers.count == state.model.layers.count else { return nil }
    return layers.map(\.tracePerParameter)
}

/// Asks for the allocation now, or as soon as the first trace estimate arrives.
func startAllocation(_ state: inout AppState, budget: SizeBudget) -> [Effect] {
    state.tradeoff.allocationGeneration += 1
    let described = BudgetInput.describe(budget)
    if case .failed(let message) = state.sensitivity.phase {
        state.tradeoff.allocation = .none
        state.notice = Notice("cannot allocate without Hessian traces: " + message, isError: true)
        return []
    }
    guard let traces = availableTraces(state) else {
        state.tradeoff.allocation = .waitingForTraces(budget)
        state.notice = Notice("allocation for \(described) waits for the first Hessian traces")
        return []
    }
    let final = state.sensitivity.phase == .finished
    let probes = state.sensitivity.probes
    state.tradeoff.allocation = .running(budget, probes: probes, final: final)
    state.notice = Notice("allocating for \(described) from \(probes) probes" + (final ? "" : " (traces not final)"))
    return [.allocate(budget, tracesPerParameter: traces, generation: state.tradeoff.allocationGeneration)]
}

/// Starts the Trade-off sweep: the uniform plans, plus the HAWQ front once the traces are final.
func startSweep(_ state: inout AppState) -> [Effect] {
    state.tradeoff.sweepGeneration += 1
    state.tradeoff.sweep = .running(done: 0, total: 0)
    var traces: [Double]?
    if state.sensitivity.phase == .finished, let final = availableTraces(state) {
        traces = final
        state.tradeoff.sweptWithFinalTraces = true
    }
    return [.sweepTradeoff(tracesPerParameter: traces, generation: state.tradeoff.sweepGeneration)]
}

/// After a sensitivity event: a waiting allocation starts with the first traces (or gives up when
/// the analysis failed); final traces start the HAWQ sweep when the pane has been opened.
func tradeoffFollowUp(_ state: inout AppState) -> [Effect] {
    var effects: [Effect] = []
    if case .waitingForTraces(let budget) = state.tradeoff.allocation {
        if case .failed = state.sensitivity.phase {
            effects += startAllocation(&state, budget: budget)
        } else if availableTraces(state) != nil {
            effects += startAllocation(&state, budget: budget)
        }
    }
    if state.sensitivity.phase == .finished, !state.tradeoff.sweptWithFinalTraces, state.tradeoff.sweep != .notStarted {
        effects += startSweep(&state)
    }
    return effects
}

/// Answers of the allocation and the sweep.
func reduceTradeoffEvent(_ state: inout AppState, _ event: TradeoffEvent) -> [Effect] {
    switch event {
    case .allocated(let generation, let result):
        guard generation == state.tradeoff.allocationGeneration,
              case .running(let budget, let probes, let final) = state.tradeoff.allocation else { return [] }
        state.tradeoff.allocation = .none
        guard result.plan.layerNames == state.plan.layerNames else { return [] }
        // Metadata included, as the budget counts it (the status line's bits/w is weights only).
        let prediction = "\(Text.fixed(result.averageBits, 3)) bits/w, \(Text.fixed(result.megabytes, 4)) MB w/ meta predicted"
        let source = "\(probes) probes" + (final ? "" : ", not final")
        if result.plan == state.plan {
            state.notice = Notice("HAWQ plan for \(BudgetInput.describe(budget)) is the current plan (\(prediction), \(source))")
            return []
        }
        // One undoable edit: `replacePlan` pushes the previous plan once.
        let effects = replacePlan(&state, with: result.plan) + compareFollowUp(&state)
        state.notice = Notice("HAWQ \(BudgetInput.describe(budget)): \(prediction) (\(source)) · u undoes")
        return effects
    case .allocationFailed(let generation, let message):
        guard generation == state.tradeoff.allocationGeneration else { return [] }
        state.tradeoff.allocation = .none
        state.notice = Notice("allocation: " + message, isError: true)
    case .sweepPlanned(let generation, let hawq, let distinct, let total):
        guard generation == state.tradeoff.sweepGeneration else { return [] }
        state.tradeoff.hawqPlanned = hawq
        state.tradeoff.hawqDistinct = distinct
        state.tradeoff.sweep = .running(done: 0, total: total)
    case .sweepPoint(let generation, let point, let done):
        // Every point is a real evaluation of its plan, so even one of an older sweep is kept.
        state.tradeoff.record(point)
        if generation == state.tradeoff.sweepGeneration, case .running(_, let total) = state.tradeoff.sweep {
            state.tradeoff.sweep = .running(done: done, total: total)
        }
    case .sweepFinished(let generation, let seconds):
        guard generation == state.tradeoff.sweepGeneration else { return [] }
        state.tradeoff.sweep = .finished(seconds: seconds)
    case .sweepFailed(let generation, let message):
        guard generation == state.tradeoff.sweepGeneration else { return [] }
        state.tradeoff.sweep = .failed(message)
        state.notice = Notice("trade-off sweep: " + message, isError: true)
    }
    return []
}

/// Every evaluation of the plan on screen joins the session's points.
func rememberEvaluation(_ state: inout AppState, _ event: EngineEvent) {
    guard case .finished(let generation, let evaluation) = event, generation == state.requestedGeneration else { return }
    state.tradeoff.remember(TradeoffPoint(source: .session, evaluation: evaluation))
}

/// The export dialog's actions (`.exportDialog` table): Tab/arrows cycle the format, typing edits
/// the path (`key` is the typed character for `typeText`), Enter writes.
func reduceExportDialog(_ state: inout AppState, _ action: Action, _ key: Key) -> [Effect] {
    guard case .export(var dialog)? = state.overlay else { return [] }
    switch action {
    case .cancel:
        state.overlay = nil
        return []
    case .nextFormat:
        dialog.cycle(by: 1, modelPath: state.model.path)
    case .previousFormat:
        dialog.cycle(by: -1, modelPath: state.model.path)
    case .confirm:
        let path = dialog.path.trimmingSpaces
        guard !path.isEmpty else {
            state.notice = Notice("no path given", isError: true)
            return []
        }
        state.overlay = nil
        state.notice = Notice("exporting \(dialog.format.rawValue) to \(path)…")
        return [.export(state.plan, format: dialog.format, path: path)]
    case .deleteBackward:
        if !dialog.path.isEmpty { dialog.path.removeLast() }
        dialog.pathEdited = true
    case .clearText:
        dialog.path = ""
        dialog.pathEdited = true
    case .typeText:
        guard case .character(let c) = key else { break }
        dialog.path.append(c)
        dialog.pathEdited = true
    default:
        break
    }
    state.overlay = .export(dialog)
    return []
}
