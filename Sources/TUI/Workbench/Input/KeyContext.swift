/// Where the user is when a key arrives; each context has its own table in `Keymap`.
///
/// A modal overlay (help, export dialog, prompt, quit question) takes every key through its own
/// table alone. In the main view the Compare view's table (while it is open) comes first, then the
/// Layers table, the allocation keys and the keys that work anywhere (these three never share a key).
public enum KeyContext: String, CaseIterable, Hashable, Sendable {
    case layers, global, tradeoff, compare, help, exportDialog, prompt, confirmQuit

    /// The heading in the `?` overlay and the README's key table.
    public var title: String {
        switch self {
        case .layers: return "Layers table"
        case .global: return "Anywhere in the main view"
        case .tradeoff: return "Allocation and Trade-off pane"
        case .compare: return "Compare view (while open, its keys come first)"
        case .help: return "This help (scrolls when taller than the screen)"
        case .exportDialog: return "Export dialog (e)"
        case .prompt: return "Save, open and budget prompts (s, o, a)"
        case .confirmQuit: return "Quit with unsaved changes (q)"
        }
    }

    /// True for the overlays that take every key while open.
    public var isModal: Bool {
        switch self {
        case .help, .exportDialog, .prompt, .confirmQuit: return true
        case .layers, .global, .tradeoff, .compare: return false
        }
    }
}
