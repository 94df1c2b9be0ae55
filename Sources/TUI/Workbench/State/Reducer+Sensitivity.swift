import Analysis
import Executor

/// The reducer's part for the sensitivity analysis and the table order (kept out of Reducer.swift).

/// Asks for the background analysis once, after the first engine result for the current request
/// (finished or failed: the analysis runs on the FP32 model and does not need a good plan), so that
/// opening the workbench shows the FP32 accuracy first.
func startSensitivityEffects(_ state: inout AppState, after event: EngineEvent) -> [Effect] {
    guard state.sensitivity.phase == .waiting, event.generation == state.requestedGeneration else { return [] }
    switch event {
    case .finished, .failed:
        state.sensitivity.phase = .starting
        return [.startSensitivity]
    case .started, .progress:
        return []
    }
}

/// A new estimate: only `sensitivity` changes (never the plan, the undo history or the evaluation;
/// a failure also shows its message as the notice);
/// with a sort order that depends on it the rows move, so the selection is kept on screen.
func reduceSensitivity(_ state: inout AppState, _ event: SensitivityEvent) {
    state.sensitivity.apply(event)
    if case .failed(let message) = event { state.notice = Notice("sensitivity analysis: " + message, isError: true) }
    if state.layerSort != .model { keepSelectionVisible(&state) }
}

/// The next table order; the selected layer stays selected and on screen.
func cycleSort(_ state: inout AppState) {
    state.layerSort = state.layerSort.next
    keepSelectionVisible(&state)
}
