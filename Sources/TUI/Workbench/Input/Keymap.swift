/// The one table of key bindings: the reducer resolves keys through it and the `?` overlay and the
/// README's key map are generated from it, so they cannot disagree.
public struct Keymap: Sendable {
    public struct Binding: Sendable, Hashable {
        public var action: Action
        public var keys: [Key]
        /// One short line for the help overlay.
        public var help: String
        /// Help-overlay group.
        public var group: String
    }

    public var bindings: [Binding]
    private var lookup: [Key: Action]

    public init(_ bindings: [Binding]) {
        self.bindings = bindings
        var lookup: [Key: Action] = [:]
        for binding in bindings {
            for key in binding.keys {
                precondition(lookup[key] == nil, "key \(key.label) bound twice")
                lookup[key] = binding.action
            }
        }
        self.lookup = lookup
    }

    /// The action bound to `key`, if any.
    public func action(for key: Key) -> Action? { lookup[key] }

    /// The keys bound to `action`, for hints such as "press ? for help".
    public func keys(for action: Action) -> [Key] { bindings.first { $0.action == action }?.keys ?? [] }

    /// The default bindings of the workbench (issue 4's key list).
    public static let standard = Keymap([
        Binding(action: .selectPrevious, keys: [.up, .character("k")], help: "select the previous layer", group: "move"),
        Binding(action: .selectNext, keys: [.down, .character("j")], help: "select the next layer", group: "move"),
        Binding(action: .pageUp, keys: [.pageUp], help: "one page up", group: "move"),
        Binding(action: .pageDown, keys: [.pageDown], help: "one page down", group: "move"),
        Binding(action: .selectFirst, keys: [.home, .character("g")], help: "first layer", group: "move"),
        Binding(action: .selectLast, keys: [.end, .character("G")], help: "last layer", group: "move"),
        Binding(action: .bitsUp, keys: [.character("+"), .character("=")],
                help: "more weight bits (2 3 4 5 6 8 16 float)", group: "edit"),
        Binding(action: .bitsDown, keys: [.character("-"), .character("_")], help: "fewer weight bits", group: "edit"),
        Binding(action: .applyBitsToAll, keys: [.character("B")], help: "all layers to the selected layer's bits",
                group: "edit"),
        Binding(action: .undo, keys: [.character("u")], help: "undo", group: "edit"),
        Binding(action: .redo, keys: [.control("r")], help: "redo", group: "edit"),
        Binding(action: .save, keys: [.character("s")], help: "save the plan (asks for a path)", group: "file"),
        Binding(action: .load, keys: [.character("o")], help: "open a plan (asks for a path)", group: "file"),
        Binding(action: .export, keys: [.character("e")],
                help: "export: onnx-qdq, aimet, ort-overrides or plan", group: "file"),
        Binding(action: .cycleSort, keys: [.character("S"), .function(6)],
                help: "sort layers: model order, trace, Ω, size", group: "view"),
        Binding(action: .cycleTheme, keys: [.character("t")], help: "next colour theme", group: "view"),
        Binding(action: .toggleHelp, keys: [.character("?")], help: "this help", group: "view"),
        Binding(action: .redraw, keys: [.control("l")], help: "redraw the screen", group: "view"),
        Binding(action: .quit, keys: [.character("q")], help: "quit (asks when the plan is unsaved)", group: "view"),
        Binding(action: .openCompare, keys: [.character("c")],
                help: "compare all quantizers on this layer", group: "quantizers"),
        Binding(action: .toggleSplit, keys: [.character("x")], help: "toggle SplitQuant (split3:SPEC)",
                group: "quantizers"),
        Binding(action: .allocate, keys: [.character("a")],
                help: "HAWQ allocation for a budget (3.5 or 0.05MB)", group: "search"),
        Binding(action: .toggleTradeoff, keys: [.character("T")], help: "Trade-off pane: accuracy vs size",
                group: "search"),
    ])

    /// Keys of the Compare view; they take precedence over `standard` while it is open (every
    /// other key keeps its main-view meaning, and moving to another layer restarts the comparison).
    public static let compareView = Keymap([
        Binding(action: .compareUp, keys: [.up, .character("k")], help: "previous row", group: "compare view"),
        Binding(action: .compareDown, keys: [.down, .character("j")], help: "next row", group: "compare view"),
        Binding(action: .compareApply, keys: [.enter], help: "apply the row to the layer (undoable)",
                group: "compare view"),
        Binding(action: .comparePreviousLayer, keys: [.left], help: "compare the previous layer", group: "compare view"),
        Binding(action: .compareNextLayer, keys: [.right], help: "compare the next layer", group: "compare view"),
        Binding(action: .closeCompare, keys: [.escape, .character("c")], help: "close the compare view",
                group: "compare view"),
    ])

    /// The key map as Markdown table rows (for the README), in table order.
    public var markdownRows: [String] {
        bindings.map { binding in
            "| " + binding.keys.map { "`\($0.displayName)`" }.joined(separator: " ") + " | \(binding.help) |"
        }
    }
}
