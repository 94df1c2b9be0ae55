extension Keymap {
    /// The default bindings of the workbench.
    public static let standard = Keymap([
        KeyTable(.layers, [
            .init(.selectPrevious, [.up, .character("k")], "select the previous layer"),
            .init(.selectNext, [.down, .character("j")], "select the next layer"),
            .init(.pageUp, [.pageUp], "one page up"),
            .init(.pageDown, [.pageDown], "one page down"),
            .init(.selectFirst, [.home, .character("g")], "first layer"),
            .init(.selectLast, [.end, .character("G")], "last layer"),
            .init(.bitsUp, [.character("+"), .character("=")], "more weight bits, same quantizer (int: 2 3 4 5 6 8 16 float)"),
            .init(.bitsDown, [.character("-"), .character("_")], "fewer weight bits, same quantizer and options"),
            .init(.applyBitsToAll, [.character("B")], "all layers to the selected layer's bits"),
            .init(.cycleSort, [.character("S"), .function(6)], "sort layers: model order, trace, Ω, size"),
            .init(.openCompare, [.character("c")], "compare all quantizers on this layer"),
            .init(.toggleSplit, [.character("x")], "toggle SplitQuant (split3:SPEC)"),
        ]),
        KeyTable(.global, [
            .init(.undo, [.character("u")], "undo"),
            .init(.redo, [.control("r")], "redo"),
            .init(.save, [.character("s")], "save the plan (asks for a path)"),
            .init(.load, [.character("o")], "open a plan (asks for a path)"),
            .init(.export, [.character("e")], "export: onnx-qdq, aimet, ort-overrides or plan"),
            .init(.cycleTheme, [.character("t")], "next colour theme"),
            .init(.toggleHelp, [.character("?")], "this help"),
            .init(.redraw, [.control("l")], "redraw the screen"),
            .init(.quit, [.character("q")], "quit (asks when the plan is unsaved)"),
        ]),
        KeyTable(.tradeoff, [
            .init(.allocate, [.character("a")], "HAWQ allocation for a budget (3.5 or 0.05MB)"),
            .init(.toggleTradeoff, [.character("T")], "Trade-off pane: accuracy vs size"),
        ]),
        // Moving to another layer (here or in the Layers table) restarts the comparison.
        KeyTable(.compare, [
            .init(.compareUp, [.up, .character("k")], "previous row"),
            .init(.compareDown, [.down, .character("j")], "next row"),
            .init(.compareApply, [.enter], "apply the row to the layer (undoable)"),
            .init(.comparePreviousLayer, [.left], "compare the previous layer"),
            .init(.compareNextLayer, [.right], "compare the next layer"),
            .init(.closeCompare, [.escape, .character("c")], "close the compare view"),
        ]),
        // When the overlay fits the screen the scroll keys close it too (see `reduceHelp`).
        KeyTable(.help, [
            .init(.helpLineUp, [.up, .character("k")], "scroll up a line"),
            .init(.helpLineDown, [.down, .character("j")], "scroll down a line"),
            .init(.helpPageUp, [.pageUp], "scroll up a page"),
            .init(.helpPageDown, [.pageDown, .character(" ")], "scroll down a page"),
        ], otherKeys: .init(.closeHelp, .anyKey, "close the help (q does not quit)")),
        KeyTable(.exportDialog, [
            .init(.nextFormat, [.tab, .right, .down], "next format"),
            .init(.previousFormat, [.left, .up], "previous format"),
            .init(.confirm, [.enter], "write the export"),
            .init(.deleteBackward, [.backspace, .delete], "delete the path's last character"),
            .init(.clearText, [.control("u")], "clear the path"),
            .init(.cancel, [.escape, .control("c"), .control("g")], "close without exporting"),
        ], otherKeys: .init(.typeText, .characters, "type into the path")),
        KeyTable(.prompt, [
            .init(.confirm, [.enter], "save, open or allocate"),
            .init(.deleteBackward, [.backspace, .delete], "delete the last character"),
            .init(.clearText, [.control("u")], "clear the text"),
            .init(.cancel, [.escape, .control("c"), .control("g")], "cancel"),
        ], otherKeys: .init(.typeText, .characters, "type the path or budget")),
        KeyTable(.confirmQuit, [
            .init(.quitWithoutSaving, [.character("y"), .character("Y")], "quit without saving"),
            .init(.saveBeforeQuit, [.character("s")], "save first (asks for a path)"),
        ], otherKeys: .init(.cancel, .anyKey, "keep working")),
    ])
}
