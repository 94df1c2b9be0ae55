import Executor
import Foundation
import Analysis
import Testing
import Workbench

/// The reducer, key by key: state changes and the effects it asks for (no terminal, no engine).
@Suite("reducer")
struct ReducerTests {
    func send(_ state: inout AppState, _ keys: Key...) -> [Effect] {
        keys.flatMap { reduce(&state, .key($0)) }
    }

    @Test("↑/↓ and j/k move the selection and stop at the ends")
    func selection() {
        var state = Fixtures.openedState()
        _ = send(&state, .down)
        #expect(state.selection == 1)
        _ = send(&state, .character("j"), .character("j"))
        #expect(state.selection == 3)
        _ = send(&state, .up, .character("k"))
        #expect(state.selection == 1)
        _ = send(&state, .up, .up, .up)
        #expect(state.selection == 0)
        _ = send(&state, .end)
        #expect(state.selection == Fixtures.model.layers.count - 1)
        _ = send(&state, .down)
        #expect(state.selection == Fixtures.model.layers.count - 1)
        _ = send(&state, .character("g"))
        #expect(state.selection == 0)
        _ = send(&state, .character("G"))
        #expect(state.selection == 8)
        _ = send(&state, .home)
        #expect(state.selection == 0)
    }

    @Test("below the minimum size only quit, help and redraw act: g + + changes nothing unseen")
    func keysWaitWhileTooSmall() {
        var state = Fixtures.openedState(size: Size(width: 40, height: 12))
        #expect(state.layout.isTooSmall)
        let before = state.plan
        let effects = send(&state, .character("G"), .character("+"), .character("+"), .character("-"), .character("u"),
                           .character("s"), .character("a"), .character("c"), .character("t"))
        #expect(effects.isEmpty)
        #expect(state.plan == before)
        #expect(state.selection == 0)
        #expect(state.overlay == nil)
        _ = reduce(&state, .mouse(MouseEvent(.press, x: 3, y: 5)))
        #expect(state.selection == 0)
        #expect(send(&state, .character("q")) == [.quit])
        // Back at a drawable size, the same keys edit again.
        var resized = Fixtures.openedState(size: Size(width: 40, height: 12))
        _ = reduce(&resized, .resize(Size(width: 120, height: 40)))
        _ = send(&resized, .character("-"))
        #expect(resized.plan != before)
    }

    @Test("below the minimum size the unsaved-changes question is answered on the notice")
    func quitWhileTooSmallWithEdits() {
        var state = Fixtures.editedState(size: Size(width: 40, height: 12))
        _ = send(&state, .character("q"))
        #expect(state.overlay == .confirmQuit)
        _ = send(&state, .character("s"))  // "save first" needs a prompt that cannot be drawn: it stays
        #expect(state.overlay == .confirmQuit)
        _ = send(&state, .character("x"))
        #expect(state.overlay == nil)
        _ = send(&state, .character("q"))
        #expect(send(&state, .character("y")) == [.quit])
    }

    @Test("page keys move by the visible rows and keep the selection visible")
    func paging() {
        var state = Fixtures.openedState(size: Size(width: 80, height: 20))
        let rows = state.layout.visibleLayerRows
        #expect(rows < 9)
        _ = send(&state, .pageDown)
        #expect(state.selection == rows)
        #expect(state.scroll <= state.selection && state.selection < state.scroll + rows)
        _ = send(&state, .pageUp)
        #expect(state.selection == 0)
        #expect(state.scroll == 0)
    }

    @Test("- steps down float -> 16 -> 8 -> 6 -> 5 -> 4 -> 3 -> 2 and stays at 2; + goes back up to float")
    func bitsLadder() {
        var state = Fixtures.openedState()
        var seen: [Int] = []
        for _ in 0..<8 {
            let effects = send(&state, .character("-"))
            seen.append(state.plan.choices[0].weightBits)
            if seen.count <= 7 { #expect(effects == [.evaluate(state.plan, generation: state.requestedGeneration)]) }
        }
        #expect(seen == [16, 8, 6, 5, 4, 3, 2, 2])
        #expect(state.plan.choices[0].weights == .int(2))
        var up: [Int] = []
        for _ in 0..<8 {
            _ = send(&state, .character("+"))
            up.append(state.plan.choices[0].weightBits)
        }
        #expect(up == [3, 4, 5, 6, 8, 16, 32, 32])
        #expect(state.plan.choices[0].weights == nil)
        // Only the selected layer changed.
        #expect(state.plan.choices.dropFirst().allSatisfy { $0 == .float })
    }

    @Test("an edit bumps the generation, marks the engine queued and keeps the old numbers (stale)")
    func editRequestsEvaluation() {
        var state = Fixtures.openedState()
        let before = state.requestedGeneration
        _ = send(&state, .down)
        let effects = send(&state, .character("-"))
        #expect(state.requestedGeneration == before + 1)
        #expect(effects == [.evaluate(state.plan, generation: before + 1)])
        #expect(state.engine == .queued)
        #expect(state.evaluation != nil)
        #expect(!state.evaluationIsCurrent)
        #expect(state.layerResult(1) == nil)
        #expect(state.layerResult(0) != nil)
    }

    @Test("B sets every layer to the selected layer's choice (one undo step)")
    func applyToAll() {
        var state = Fixtures.openedState()
        _ = send(&state, .down, .character("-"), .character("-"))
        #expect(state.plan.choices[1].weights == .int(8))
        let effects = send(&state, .character("B"))
        #expect(state.plan.choices.allSatisfy { $0.weights == .int(8) })
        #expect(effects.count == 1)
        _ = send(&state, .character("u"))
        #expect(state.plan.choices.filter { $0.weights == .int(8) }.count == 1)
    }

    @Test("u undoes and Ctrl-R redoes, each asking for an evaluation; a new edit clears redo")
    func undoRedo() {
        var state = Fixtures.openedState()
        let original = state.plan
        _ = send(&state, .character("-"))
        let edited = state.plan
        var effects = send(&state, .character("u"))
        #expect(state.plan == original)
        #expect(effects == [.evaluate(original, generation: state.requestedGeneration)])
        effects = send(&state, .control("r"))
        #expect(state.plan == edited)
        #expect(effects == [.evaluate(edited, generation: state.requestedGeneration)])
        _ = send(&state, .character("u"), .down, .character("-"))
        #expect(state.redoStack.isEmpty)
        #expect(send(&state, .control("r")).isEmpty)
        #expect(state.notice?.text == "nothing to redo")
        _ = send(&state, .character("u"))
        #expect(send(&state, .character("u")).isEmpty)
        #expect(state.notice?.text == "nothing to undo")
    }

    @Test("s asks for a path (default <model>.qscope.json); Enter saves; the saved plan is no longer dirty")
    func save() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("-"))
        #expect(state.hasUnsavedChanges)
        _ = send(&state, .character("s"))
        #expect(state.overlay == .prompt(Prompt(.savePlan, text: "sample-models/cnn.qscope.json")))
        // Edit the path: backspace x4, type "json"... then Enter.
        _ = send(&state, .backspace, .backspace, .backspace, .backspace, .character("j"), .character("s"),
                 .character("o"), .character("n"))
        let effects = send(&state, .enter)
        #expect(effects == [.savePlan(state.plan, path: "sample-models/cnn.qscope.json")])
        #expect(state.overlay == nil)
        _ = reduce(&state, .planSaved(state.plan, path: "sample-models/cnn.qscope.json"))
        #expect(!state.hasUnsavedChanges)
        #expect(state.notice == Notice("saved sample-models/cnn.qscope.json"))
    }

    @Test("Esc cancels a prompt; Ctrl-U clears it; an empty path is refused")
    func promptEditing() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("s"), .escape)
        #expect(state.overlay == nil)
        _ = send(&state, .character("s"), .control("u"))
        #expect(state.overlay == .prompt(Prompt(.savePlan, text: "")))
        #expect(send(&state, .enter).isEmpty)
        #expect(state.notice?.isError == true)
        // Keys typed into a prompt are text, not actions.
        _ = send(&state, .character("o"), .control("u"), .character("q"), .character("u"))
        #expect(state.overlay == .prompt(Prompt(.loadPlan, text: "qu")))
        #expect(!state.quitting)
    }

    @Test("o opens a plan: Enter asks to load it, a loaded plan replaces the current one (undoable)")
    func load() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("o"))
        #expect(state.overlay == .prompt(Prompt(.loadPlan, text: "sample-models/cnn.qscope.json")))
        #expect(send(&state, .enter) == [.loadPlan(path: "sample-models/cnn.qscope.json")])
        var plan = state.plan
        plan.choices[2].weights = .int(4)
        let effects = reduce(&state, .planLoaded(plan, path: "p.qscope.json"))
        #expect(state.plan == plan)
        #expect(!state.hasUnsavedChanges)
        #expect(state.planPath == "p.qscope.json")
        #expect(effects == [.evaluate(plan, generation: state.requestedGeneration)])
        _ = send(&state, .character("u"))
        #expect(state.plan.isAllFloat)
        _ = reduce(&state, .planLoadFailed(message: "x.json: no such file"))
        #expect(state.notice == Notice("x.json: no such file", isError: true))
    }

    @Test("t cycles the themes and asks the runtime to apply the theme")
    func themes() {
        var state = Fixtures.openedState()
        #expect(send(&state, .character("t")) == [.applyTheme(index: 1)])
        #expect(send(&state, .character("t")) == [.applyTheme(index: 2)])
        #expect(send(&state, .character("t")) == [.applyTheme(index: 0)])
        #expect(state.notice?.text == "theme dark")
    }

    @Test("? opens the help; any key closes it without acting")
    func help() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("?"))
        #expect(state.overlay == .help)
        #expect(send(&state, .character("q")).isEmpty)
        #expect(state.overlay == nil)
        #expect(!state.quitting)
    }

    @Test("q quits at once when saved, asks when there are unsaved changes")
    func quit() {
        var clean = Fixtures.openedState()
        #expect(send(&clean, .character("q")) == [.quit])
        #expect(clean.quitting)

        var dirty = Fixtures.openedState()
        _ = send(&dirty, .character("-"))
        #expect(send(&dirty, .character("q")).isEmpty)
        #expect(dirty.overlay == .confirmQuit)
        _ = send(&dirty, .character("n"))
        #expect(dirty.overlay == nil && !dirty.quitting)
        _ = send(&dirty, .character("q"), .character("s"))
        #expect(dirty.overlay == .prompt(Prompt(.savePlan, text: dirty.planPath)))
        _ = send(&dirty, .escape, .character("q"))
        #expect(send(&dirty, .character("y")) == [.quit])
        #expect(dirty.quitting)
    }

    @Test("Ctrl-L and resizes repaint everything; a resize keeps the selection visible")
    func redrawAndResize() {
        var state = Fixtures.openedState()
        #expect(send(&state, .control("l")) == [.redraw])
        _ = send(&state, .end)
        #expect(reduce(&state, .resize(Size(width: 80, height: 24))) == [.redraw])
        #expect(state.size == Size(width: 80, height: 24))
        #expect(state.selection >= state.scroll && state.selection < state.scroll + state.layout.visibleLayerRows)
    }

    @Test("while idle, moving to a layer prefetches its next lower and higher setting, then its neighbours' next lower; not while busy")
    func prefetch() {
        var state = Fixtures.openedState()
        func edited(_ plan: Plan, _ layer: Int, _ spec: QuantizerSpec?) -> Plan {
            var plan = plan
            plan.choices[layer].weights = spec
            return plan
        }
        // Float has nothing above it; layer 1's neighbours are 2 (next) and 0 (previous).
        #expect(send(&state, .down) == [.prefetch([edited(state.plan, 1, .int(16)), edited(state.plan, 2, .int(16)),
                                                   edited(state.plan, 0, .int(16))])])
        _ = send(&state, .character("-"))
        #expect(send(&state, .down, .up).isEmpty)  // the engine is busy: no speculation
        let generation = state.requestedGeneration
        let effects = reduce(&state, .engine(.finished(generation: generation, Fixtures.evaluation(state.plan))))
        #expect(effects == [.prefetch([edited(state.plan, 1, .int(8)), edited(state.plan, 1, nil),
                                       edited(state.plan, 2, .int(16)), edited(state.plan, 0, .int(16))])])
        // Stale results never trigger a prefetch; the first layer has no previous layer.
        #expect(reduce(&state, .engine(.finished(generation: generation - 1, Fixtures.evaluation(state.plan)))).isEmpty)
        #expect(send(&state, .character("g")) == [.prefetch([edited(state.plan, 0, .int(16)), edited(state.plan, 1, .int(8))])])
        // The last layer has no next layer.
        let last = state.plan.count - 1
        #expect(send(&state, .end) == [.prefetch([edited(state.plan, last, .int(16)), edited(state.plan, last - 1, .int(16))])])
    }

    @Test("unbound keys do nothing")
    func unbound() {
        var state = Fixtures.openedState()
        let before = state
        #expect(send(&state, .character("z"), .function(5), .tab).isEmpty)
        #expect(state == before)
    }

    @Test("engine events: progress and results of the current generation apply, stale ones are dropped")
    func engineEvents() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("-"))
        let first = state.requestedGeneration
        let firstPlan = state.plan
        _ = send(&state, .character("-"))
        let current = state.requestedGeneration
        _ = reduce(&state, .engine(.started(generation: first)))
        #expect(state.engine == .queued)
        _ = reduce(&state, .engine(.finished(generation: first, Fixtures.evaluation(firstPlan))))
        #expect(state.evaluation?.plan != firstPlan)
        _ = reduce(&state, .engine(.started(generation: current)))
        _ = reduce(&state, .engine(.progress(generation: current, done: 3, total: 8)))
        #expect(state.engine == .running(done: 3, total: 8))
        #expect(!reduce(&state, .engine(.finished(generation: current, Fixtures.evaluation(state.plan, correct: 1700)))).isEmpty)
        #expect(state.engine == .idle)
        #expect(state.evaluationIsCurrent)
        #expect(state.evaluation?.correct == 1700)
        _ = send(&state, .character("-"))
        _ = reduce(&state, .engine(.failed(generation: state.requestedGeneration, message: "boom")))
        #expect(state.engineError == "boom")
        #expect(state.engine == .idle)
    }

    @Test("mouse: a click on a row selects it, the wheel scrolls, clicks elsewhere do nothing")
    func mouse() {
        var state = Fixtures.openedState(size: Size(width: 80, height: 20))
        let rows = state.layout.layerRows
        #expect(rows.height < 9)
        _ = reduce(&state, .mouse(MouseEvent(.press, x: rows.x + 3, y: rows.y + 2)))
        #expect(state.selection == 2)
        _ = reduce(&state, .mouse(MouseEvent(.press, x: 0, y: 0)))
        #expect(state.selection == 2)
        _ = reduce(&state, .mouse(MouseEvent(.wheelDown, x: rows.x, y: rows.y)))
        #expect(state.scroll == min(3, 9 - rows.height))
        #expect(state.selection >= state.scroll)
        _ = reduce(&state, .mouse(MouseEvent(.wheelUp, x: rows.x, y: rows.y)))
        #expect(state.scroll == 0)
    }

    @Test("every action is reachable from a key of some context, and the tables' rows are what the README shows")
    func keymapComplete() {
        let keymap = Keymap.standard
        for action in Action.allCases {
            let reachable = keymap.tables.contains { !$0.keys(for: action).isEmpty || $0.otherKeys?.action == action }
            #expect(reachable, "\(action) has no key in any context")
        }
        #expect(keymap.resolve(.control("r"), in: [.layers, .tradeoff, .global])?.action == .redo)
        // Written out by hand, not generated: the row format of a binding, of several keys, of a
        // context's heading and of its other keys.
        #expect(keymap.table(.prompt).markdownRows == [
            "| **Save, open and budget prompts (s, o, a)** | |",
            "| `Enter` | save, open or allocate |",
            "| `Backspace` `Del` | delete the last character |",
            "| `Ctrl-U` | clear the text |",
            "| `Esc` `Ctrl-C` `Ctrl-G` | cancel |",
            "| *characters* | type the path or budget |",
        ])
        #expect(keymap.table(.confirmQuit).markdownRows == [
            "| **Quit with unsaved changes (q)** | |",
            "| `y` `Y` | quit without saving |",
            "| `s` | save first (asks for a path) |",
            "| *other keys* | keep working |",
        ])
    }
}

@Suite("key map documentation")
struct KeymapDocumentationTests {
    @Test("the README's key table is the keymap's, every context in order (regenerate it from Keymap.markdownRows)")
    func readmeMatchesKeymap() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let table = (["| keys | action |", "|---|---|"] + Keymap.standard.markdownRows).joined(separator: "\n") + "\n"
        #expect(text.contains(table), "README lacks the key table; it should read:\n\(table)")
    }
}
