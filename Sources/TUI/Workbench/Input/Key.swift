/// A key press, decoded by the backend from the terminal's input.
public enum Key: Hashable, Sendable {
    /// A printable character (letters keep their case: `B` is Shift-b).
    case character(Character)
    /// Control plus a lower-case letter (`Ctrl-R` = `.control("r")`).
    case control(Character)
    case up, down, left, right
    case pageUp, pageDown, home, end
    case enter, escape, backspace, tab, delete
    case function(Int)

    /// The key's label as shown in the help overlay and written in key files (lazygit style):
    /// `a`, `B`, `<c-r>`, `<up>`, `<pgdn>`, `<enter>`, `<f5>`.
    public var label: String {
        switch self {
        case .character(" "): return "<space>"
        case .character(let c): return String(c)
        case .control(let c): return "<c-\(c)>"
        case .up: return "<up>"
        case .down: return "<down>"
        case .left: return "<left>"
        case .right: return "<right>"
        case .pageUp: return "<pgup>"
        case .pageDown: return "<pgdn>"
        case .home: return "<home>"
        case .end: return "<end>"
        case .enter: return "<enter>"
        case .escape: return "<esc>"
        case .backspace: return "<backspace>"
        case .tab: return "<tab>"
        case .delete: return "<del>"
        case .function(let n): return "<f\(n)>"
        }
    }

    /// How the help overlay shows the key to a person: `↑`, `Ctrl-R`, `PgDn`.
    public var displayName: String {
        switch self {
        case .up: return "↑"
        case .down: return "↓"
        case .left: return "←"
        case .right: return "→"
        case .control(let c): return "Ctrl-\(String(c).uppercased())"
        case .pageUp: return "PgUp"
        case .pageDown: return "PgDn"
        case .home: return "Home"
        case .end: return "End"
        case .enter: return "Enter"
        case .escape: return "Esc"
        case .backspace: return "Backspace"
        case .tab: return "Tab"
        case .delete: return "Del"
        case .function(let n): return "F\(n)"
        case .character(" "): return "Space"
        case .character(let c): return String(c)
        }
    }
}

/// A mouse event in screen cells.
public struct MouseEvent: Hashable, Sendable {
    public enum Kind: Hashable, Sendable { case press, wheelUp, wheelDown }
    public var kind: Kind
    public var x: Int
    public var y: Int

    public init(_ kind: Kind, x: Int, y: Int) {
        self.kind = kind
        self.x = x
        self.y = y
    }
}
