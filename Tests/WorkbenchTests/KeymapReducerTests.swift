import Analysis
import Executor
import Testing
import Workbench

/// Keys resolved through the keymap's context tables: which contexts are active, that the reducer
/// follows the tables (rebinding a key in a table changes what the reducer does), the overlays' and
/// prompts' keys, and the `?` overlay listing every context.
@Suite("keymap reducer")
struct KeymapReducerTests {
    func send(_ state: inout AppState, _ keys: Key..., keymap: Keymap = .standard) -> [Effect] {
        keys.flatMap { reduce(&state, .key($0), keymap: keymap) }
    }

    /// The standard keymap with `table` in place of the standard table of its context.
    func replacing(_ table: KeyTable) -> Keymap {
        Keymap(Keymap.standard.tables.map { $0.context == table.context ? table : $0 })
    }

    @Test("an overlay takes keys alone; in the main view the Compare view comes before the other tables")
    func activeContexts() {
        var state = Fixtures.openedState()
        #expect(state.keyContexts == [.layers, .tradeoff, .global])
        _ = send(&state, .character("c"))
        #expect(state.keyContexts == [.compare, .layers, .tradeoff, .global])
        _ = send(&state, .character("?"))
        #expect(state.keyContexts == [.help])
        _ = send(&state, .escape, .character("e"))
        #expect(state.keyContexts == [.exportDialog])
        _ = send(&state, .escape, .character("a"))
        #expect(state.keyContexts == [.prompt])
        _ = send(&state, .escape, .character("-"), .character("q"))
        #expect(state.keyContexts == [.confirmQuit])
    }

    @Test("the prompt follows its table: with cancel on F2 and confirm on Tab, Esc does nothing and Tab saves")
    func promptFollowsTable() {
        let keymap = replacing(KeyTable(.prompt, [
            .init(.confirm, [.tab], "save, open or allocate"),
            .init(.cancel, [.function(2)], "cancel"),
        ], otherKeys: .init(.typeText, .characters, "type the path or budget")))
        var state = Fixtures.openedState()
        _ = send(&state, .character("s"), .escape, .enter, keymap: keymap)
        #expect(state.overlay == .prompt(Prompt(.savePlan, text: "sample-models/cnn.qscope.json")))
        _ = send(&state, .function(2), keymap: keymap)
        #expect(state.overlay == nil)
        _ = send(&state, .character("s"), keymap: keymap)
        #expect(send(&state, .tab, keymap: keymap) == [.savePlan(state.plan, path: "sample-models/cnn.qscope.json")])
    }

    @Test("the export dialog, the help and the quit question follow their tables too")
    func overlaysFollowTables() {
        var keymap = replacing(KeyTable(.exportDialog, [.init(.nextFormat, [.function(3)], "next format")]))
        var state = Fixtures.openedState()
        _ = send(&state, .character("e"), .tab, keymap: keymap)
        #expect(state.overlay == .export(ExportDialog(format: .onnxQDQ, modelPath: "sample-models/cnn.onnx")))
        _ = send(&state, .function(3), keymap: keymap)
        #expect(state.overlay == .export(ExportDialog(format: .aimet, modelPath: "sample-models/cnn.onnx")))
        // No `otherKeys` in this table: characters are not typed.
        _ = send(&state, .character("x"), keymap: keymap)
        #expect(state.overlay == .export(ExportDialog(format: .aimet, modelPath: "sample-models/cnn.onnx")))

        // A help table without `otherKeys`: only its own keys close it.
        keymap = replacing(KeyTable(.help, [.init(.closeHelp, [.character("?")], "close the help")]))
        state = Fixtures.openedState()
        _ = send(&state, .character("?"), .escape, .character("q"), keymap: keymap)
        #expect(state.overlay == .help && !state.quitting)
        _ = send(&state, .character("?"), keymap: keymap)
        #expect(state.overlay == nil)

        keymap = replacing(KeyTable(.confirmQuit, [.init(.quitWithoutSaving, [.character("!")], "quit without saving")]))
        state = Fixtures.editedState()
        _ = send(&state, .character("q"), .character("y"), keymap: keymap)
        #expect(state.overlay == .confirmQuit && !state.quitting)
        #expect(send(&state, .character("!"), keymap: keymap) == [.quit])
    }

    @Test("the Compare view's table shadows the Layers table's keys only while it is open")
    func compareShadowsLayers() {
        let keymap = replacing(KeyTable(.compare, [.init(.closeCompare, [.character("j")], "close the compare view")]))
        var state = Fixtures.openedState()
        _ = send(&state, .character("j"), keymap: keymap)
        #expect(state.selection == 1)
        _ = send(&state, .character("c"), keymap: keymap)
        #expect(state.compare != nil)
        // ↓ is not in this Compare table, so the Layers table moves the selection (and the comparison follows).
        _ = send(&state, .down, keymap: keymap)
        #expect(state.selection == 2 && state.compare?.layer == 2)
        #expect(send(&state, .character("j"), keymap: keymap) == [.cancelCompare])
        #expect(state.compare == nil && state.selection == 2)
    }

    @Test("prompt keys: Ctrl-C and Ctrl-G cancel, Del deletes, a space is typed, arrows and F-keys do nothing")
    func promptKeys() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("s"), .control("c"))
        #expect(state.overlay == nil)
        _ = send(&state, .character("o"), .control("g"))
        #expect(state.overlay == nil)
        _ = send(&state, .character("a"), .control("u"), .character("3"), .character(" "), .character("b"),
                 .character("x"), .delete, .left, .up, .tab, .function(5))
        #expect(state.overlay == .prompt(Prompt(.budget, text: "3 b")))
    }

    @Test("export dialog keys: ↓ and → next format, ↑ and ← previous, Ctrl-G closes, a space is typed")
    func exportDialogKeys() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("e"), .down, .right)
        #expect(state.overlay == .export(ExportDialog(format: .ortOverrides, modelPath: "sample-models/cnn.onnx")))
        _ = send(&state, .up)
        #expect(state.overlay == .export(ExportDialog(format: .aimet, modelPath: "sample-models/cnn.onnx")))
        _ = send(&state, .control("u"), .character("a"), .character(" "), .character("b"), .function(5))
        var expected = ExportDialog(format: .aimet, modelPath: "sample-models/cnn.onnx")
        expected.path = "a b"
        expected.pathEdited = true
        #expect(state.overlay == .export(expected))
        #expect(send(&state, .control("g")).isEmpty)
        #expect(state.overlay == nil)
    }

    @Test("the quit question: Y quits, Esc and other keys keep working")
    func confirmQuitKeys() {
        var state = Fixtures.editedState()
        _ = send(&state, .character("q"), .escape)
        #expect(state.overlay == nil && !state.quitting)
        _ = send(&state, .character("q"), .down)
        #expect(state.overlay == nil && !state.quitting && state.selection == Fixtures.editedState().selection)
        #expect(send(&state, .character("q"), .character("Y")) == [.quit])
        #expect(state.quitting)
    }

    @Test("? lists every context under its heading, with every binding and its other keys")
    func helpListsEveryContext() {
        // Tall enough for one column, so every line is on screen.
        var state = Fixtures.openedState(size: Size(width: 160, height: 90))
        _ = send(&state, .character("?"))
        var buffer = CellBuffer(size: state.size)
        renderScreen(state, into: &buffer)
        let rows = buffer.text.split(separator: "\n").map { String($0) }
        for table in Keymap.standard.tables {
            let heading = rows.firstIndex { $0.contains(table.context.title) }
            #expect(heading != nil, "no heading \(table.context.title)")
            for entry in table.entries {
                // The keys and the help on one row, below the heading.
                let row = rows.firstIndex { $0.contains(entry.keys + "  " + entry.help) }
                #expect(row != nil && row! > (heading ?? .max), "\(table.context): \(entry.keys) \(entry.help)")
            }
        }
    }
}
