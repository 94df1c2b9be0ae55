import Analysis
import Executor

// Answers of the file effects (`.savePlan`, `.loadPlan`, `.export`), which the runtime runs off the
// UI thread: each comes back as one message, and only here does it change the state.

/// A plan file was written: `plan` (the plan as it was when saved; edits made while the file was
/// being written stay unsaved) becomes the saved plan, and `path` where `s` proposes to save next.
func reducePlanSaved(_ state: inout AppState, _ plan: Plan, path: String) {
    state.savedPlan = plan
    state.planPath = path
    state.notice = Notice("saved \(path)")
}

/// A plan file was read: it replaces the current plan as one undoable edit and counts as saved.
func reducePlanLoaded(_ state: inout AppState, _ plan: Plan, path: String, warning: String? = nil) -> [Effect] {
    state.planPath = path
    state.notice = warning.map { Notice("opened \(path) · warning: " + $0, isError: true) } ?? Notice("opened \(path)")
    let effects = replacePlan(&state, with: plan) + compareFollowUp(&state)
    state.savedPlan = plan
    return effects
}

/// The notice for a written export: path, format, size and any warnings.
func reduceExported(_ state: inout AppState, _ outcome: ExportOutcome) {
    var text = "wrote \(outcome.path) (\(outcome.format.rawValue), \(Text.grouped(outcome.bytes)) bytes)"
    for warning in outcome.warnings { text += " · warning: " + warning }
    state.notice = Notice(text)
}

/// A save, open or export failed: its one-line error (it names the file) as an error notice; the
/// plan, the saved plan and the plan path are left as they were.
func reduceFileFailure(_ state: inout AppState, message: String) {
    state.notice = Notice(message, isError: true)
}
