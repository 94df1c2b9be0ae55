/// What a key asks for in the main view. The reducer sees actions, never raw keys (except while a
/// prompt is collecting text).
public enum Action: String, CaseIterable, Hashable, Sendable {
    case selectPrevious, selectNext, pageUp, pageDown, selectFirst, selectLast
    case bitsUp, bitsDown, applyBitsToAll
    case cycleSort
    case undo, redo
    case save, load
    case cycleTheme, toggleHelp, redraw, quit
    /// Compare view (`Keymap.compareView` while it is open) and the SplitQuant toggle.
    case openCompare, toggleSplit
    case compareUp, compareDown, compareApply, closeCompare, comparePreviousLayer, compareNextLayer
    /// `a` (HAWQ allocation for a typed budget), the Trade-off pane and the export dialog.
    case allocate, toggleTradeoff, export
}
