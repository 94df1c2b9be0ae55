import Analysis
import Executor

// The modal overlays' actions: the `?` help, the one-line prompts and the unsaved-changes question
// (their keys are the `.help`, `.prompt` and `.confirmQuit` tables of the keymap). The export
// dialog's are in Reducer+Tradeoff.swift.

/// `?` overlay: the scroll actions move it when it is taller than the screen; otherwise, and for
/// every other key (`closeHelp`), it closes without acting (`q` does not quit).
func reduceHelp(_ state: inout AppState, _ action: Action, keymap: Keymap) -> [Effect] {
    let layout = HelpOverlay.layout(keymap, in: Rect(size: state.size))
    if layout.scrollable {
        // A page keeps one line of the previous page in view.
        let page = max(1, layout.visibleRows - 1)
        let step: Int? = switch action {
        case .helpLineDown: 1
        case .helpLineUp: -1
        case .helpPageDown: page
        case .helpPageUp: -page
        default: nil
        }
        if let step {
            state.helpScroll = min(max(0, state.helpScroll + step), layout.maxScroll)
            return []
        }
    }
    state.overlay = nil
    state.helpScroll = 0
    return []
}

/// The save, open and budget prompts: editing the text, Enter (`confirm`) acts on it.
/// `key` is the typed character for `typeText`.
func reducePrompt(_ state: inout AppState, _ action: Action, _ key: Key) -> [Effect] {
    guard case .prompt(var prompt)? = state.overlay else { return [] }
    switch action {
    case .cancel:
        state.overlay = nil
    case .confirm:
        state.overlay = nil
        if prompt.purpose == .budget { return submitBudget(&state, prompt.text) }
        let path = prompt.text.trimmingSpaces
        guard !path.isEmpty else {
            state.notice = Notice("no path given", isError: true)
            return []
        }
        switch prompt.purpose {
        case .savePlan: return [.savePlan(state.plan, path: path)]
        case .loadPlan: return [.loadPlan(path: path)]
        case .budget: return []
        }
    case .deleteBackward:
        if !prompt.text.isEmpty { prompt.text.removeLast() }
        state.overlay = .prompt(prompt)
    case .clearText:
        prompt.text = ""
        state.overlay = .prompt(prompt)
    case .typeText:
        if case .character(let c) = key { prompt.text.append(c) }
        state.overlay = .prompt(prompt)
    default:
        break
    }
    return []
}

/// "Unsaved changes. Quit anyway?": quit, save first (the save prompt), or keep working.
func reduceConfirmQuit(_ state: inout AppState, _ action: Action) -> [Effect] {
    switch action {
    case .quitWithoutSaving:
        state.overlay = nil
        state.quitting = true
        return [.quit]
    case .saveBeforeQuit:
        state.overlay = .prompt(Prompt(.savePlan, text: state.planPath))
    default:
        state.overlay = nil
    }
    return []
}
