/// What a key asks for. The reducer sees actions, never raw keys; the one exception is `typeText`,
/// whose character the reducer takes from the key (text typed into a prompt or the export path).
///
/// Grouped by the `KeyContext` whose table binds them; `confirm`, `cancel`, `deleteBackward`,
/// `clearText` and `typeText` are shared by the prompts and the export dialog.
public enum Action: String, CaseIterable, Hashable, Sendable {
    // Layers table: moves, edits of the selected layer, the table's order, the Compare view, SplitQuant.
    case selectPrevious, selectNext, pageUp, pageDown, selectFirst, selectLast
    case bitsUp, bitsDown, applyBitsToAll
    case cycleSort
    case openCompare, toggleSplit
    // Anywhere in the main view.
    case undo, redo
    case save, load, export
    case cycleTheme, toggleHelp, redraw, quit
    // `a` (HAWQ allocation for a typed budget) and the Trade-off pane.
    case allocate, toggleTradeoff
    // The Compare view while it is open.
    case compareUp, compareDown, compareApply, closeCompare, comparePreviousLayer, compareNextLayer
    // The `?` overlay (it scrolls only when it is taller than the screen; otherwise every key closes it).
    case helpLineUp, helpLineDown, helpPageUp, helpPageDown, closeHelp
    // Text fields: the save/open/budget prompts and the export dialog's path.
    case confirm, cancel, deleteBackward, clearText, typeText
    // The export dialog's format list.
    case nextFormat, previousFormat
    // The unsaved-changes question after `q`.
    case quitWithoutSaving, saveBeforeQuit
}
