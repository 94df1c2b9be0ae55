/// A modal layer over the main view; it receives the keys while open.
public enum Overlay: Hashable, Sendable {
    case help
    /// A one-line text prompt (save or open a plan, an allocation budget).
    case prompt(Prompt)
    /// "Unsaved changes: quit anyway?"
    case confirmQuit
    /// The `e` dialog: format and path of an export.
    case export(ExportDialog)
}

/// A text prompt and what Enter does with its text.
public struct Prompt: Hashable, Sendable {
    /// `budget`: the `a` key's allocation budget (bits per weight or MB).
    public enum Purpose: Hashable, Sendable { case savePlan, loadPlan, budget }
    public var purpose: Purpose
    public var text: String

    public init(_ purpose: Purpose, text: String) {
        self.purpose = purpose
        self.text = text
    }

    public var label: String {
        switch purpose {
        case .savePlan: return "Save plan to: "
        case .loadPlan: return "Open plan: "
        case .budget: return "Allocate for budget (bits/w, or MB): "
        }
    }
}

/// A one-line note in the bottom row until the next key (saved, loaded, an error).
public struct Notice: Hashable, Sendable {
    public var text: String
    public var isError: Bool

    public init(_ text: String, isError: Bool = false) {
        self.text = text
        self.isError = isError
    }
}
