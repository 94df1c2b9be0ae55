import Analysis
import Executor
import Testing
import Workbench

/// Saves, opens and exports as the reducer sees them: the effect it asks for, then the runtime's
/// answer as a message (success or failure), and what each answer does to the plan, the unsaved
/// marker `[+]` in the title bar, the plan path and the notice.
@Suite("file reducer")
struct FileReducerTests {
    func send(_ state: inout AppState, _ keys: Key...) -> [Effect] {
        keys.flatMap { reduce(&state, .key($0)) }
    }

    func type(_ state: inout AppState, _ text: String) {
        for character in text { _ = reduce(&state, .key(.character(character))) }
    }

    /// The rendered screen's first row (model, plan path, `[+]`) and last row (notice or key hints).
    func titleAndBottom(_ state: AppState) -> (title: String, bottom: String) {
        var buffer = CellBuffer(size: state.size)
        renderScreen(state, into: &buffer)
        let rows = buffer.text.split(separator: "\n", omittingEmptySubsequences: false)
        return (String(rows[0]), String(rows[state.size.height - 1]))
    }

    /// The edited fixture with the save prompt answered with `path`: the effect Enter asked for.
    func askToSave(_ state: inout AppState, path: String) -> [Effect] {
        _ = send(&state, .character("s"), .control("u"))
        type(&state, path)
        return send(&state, .enter)
    }

    @Test("save: Enter asks for the write; nothing changes until .planSaved, which clears [+], names the path and moves s's default")
    func saveSucceeds() {
        var state = Fixtures.editedState()
        #expect(titleAndBottom(state).title.contains("plan sample-models/cnn.qscope.json [+]"))
        let plan = state.plan
        #expect(askToSave(&state, path: "out/p.qscope.json") == [.savePlan(plan, path: "out/p.qscope.json")])
        #expect(state.overlay == nil)
        #expect(state.hasUnsavedChanges && state.planPath == "sample-models/cnn.qscope.json")

        #expect(reduce(&state, .planSaved(plan, path: "out/p.qscope.json")).isEmpty)
        #expect(!state.hasUnsavedChanges)
        #expect(state.plan == plan && state.savedPlan == plan)
        let screen = titleAndBottom(state)
        #expect(screen.title.contains("plan out/p.qscope.json") && !screen.title.contains("[+]"))
        #expect(state.notice == Notice("saved out/p.qscope.json"))
        #expect(screen.bottom.hasPrefix("saved out/p.qscope.json"))
        _ = send(&state, .character("s"))
        #expect(state.overlay == .prompt(Prompt(.savePlan, text: "out/p.qscope.json")))
    }

    @Test("save: an edit made while the file is being written stays unsaved")
    func editWhileSaving() {
        var state = Fixtures.editedState()
        let written = state.plan
        #expect(askToSave(&state, path: "p.qscope.json") == [.savePlan(written, path: "p.qscope.json")])
        _ = send(&state, .character("-"))
        _ = reduce(&state, .planSaved(written, path: "p.qscope.json"))
        #expect(state.savedPlan == written && state.plan != written)
        #expect(state.hasUnsavedChanges)
        #expect(titleAndBottom(state).title.contains("plan p.qscope.json [+]"))
    }

    @Test("save: a failure is an error notice; the plan stays unsaved, the path and the history unchanged")
    func saveFails() {
        var state = Fixtures.editedState()
        _ = askToSave(&state, path: "/nope/p.qscope.json")
        let before = state
        let message = "qscope: /nope/p.qscope.json: No such file or directory"
        #expect(reduce(&state, .planSaveFailed(message: message)).isEmpty)
        #expect(state.notice == Notice(message, isError: true))
        #expect(state.hasUnsavedChanges)
        #expect(state.plan == before.plan && state.savedPlan == before.savedPlan && state.planPath == before.planPath)
        #expect(state.undoStack == before.undoStack)
        let screen = titleAndBottom(state)
        #expect(screen.title.contains("plan sample-models/cnn.qscope.json [+]"))
        #expect(screen.bottom.hasPrefix(message))
        // The next key clears the notice.
        _ = send(&state, .down)
        #expect(state.notice == nil)
    }

    @Test("save from the quit question: after .planSaved q quits without asking")
    func saveThenQuit() {
        var state = Fixtures.editedState()
        _ = send(&state, .character("q"), .character("s"))
        let effects = send(&state, .enter)
        #expect(effects == [.savePlan(state.plan, path: "sample-models/cnn.qscope.json")])
        // Before the answer the plan is still unsaved, so q asks again.
        _ = send(&state, .character("q"))
        #expect(state.overlay == .confirmQuit)
        _ = send(&state, .escape)
        _ = reduce(&state, .planSaved(state.plan, path: "sample-models/cnn.qscope.json"))
        #expect(send(&state, .character("q")) == [.quit])
    }

    @Test("open: Enter asks for the read; .planLoaded replaces the plan (undoable), counts as saved and evaluates it")
    func loadSucceeds() {
        var state = Fixtures.editedState()
        let edited = state.plan
        _ = send(&state, .character("o"), .control("u"))
        type(&state, "q.qscope.json")
        #expect(send(&state, .enter) == [.loadPlan(path: "q.qscope.json")])
        #expect(state.plan == edited && state.planPath == "sample-models/cnn.qscope.json")
        var loaded = Fixtures.floatPlan
        loaded.choices[3].weights = .int(5)
        let effects = reduce(&state, .planLoaded(loaded, path: "q.qscope.json"))
        #expect(effects == [.evaluate(loaded, generation: state.requestedGeneration)])
        #expect(state.plan == loaded && state.savedPlan == loaded && !state.hasUnsavedChanges)
        #expect(state.planPath == "q.qscope.json")
        #expect(state.notice == Notice("opened q.qscope.json"))
        let screen = titleAndBottom(state)
        #expect(screen.title.contains("plan q.qscope.json") && !screen.title.contains("[+]"))
        _ = send(&state, .character("u"))
        #expect(state.plan == edited && state.hasUnsavedChanges)
    }

    @Test("open: a failure is an error notice; the plan, its history, the saved plan and the path are untouched")
    func loadFails() {
        var state = Fixtures.editedState()
        _ = send(&state, .character("o"))
        #expect(send(&state, .enter) == [.loadPlan(path: "sample-models/cnn.qscope.json")])
        let before = state
        let message = "qscope: sample-models/cnn.qscope.json: layer '/stem/stem.0/Conv' missing"
        #expect(reduce(&state, .planLoadFailed(message: message)).isEmpty)
        #expect(state.notice == Notice(message, isError: true))
        #expect(state.plan == before.plan && state.savedPlan == before.savedPlan && state.planPath == before.planPath)
        #expect(state.undoStack == before.undoStack && state.redoStack == before.redoStack)
        #expect(titleAndBottom(state).title.contains("[+]"))
    }

    @Test("export: the answers are notices; neither the success nor the failure touches the plan or [+]")
    func exportAnswers() {
        var state = Fixtures.editedState()
        _ = send(&state, .character("e"), .control("u"))
        type(&state, "m.qscope.json")
        _ = send(&state, .tab, .tab, .tab)
        let plan = state.plan
        #expect(send(&state, .enter) == [.export(plan, format: .plan, path: "m.qscope.json")])
        #expect(state.notice == Notice("exporting plan to m.qscope.json…"))
        let before = state
        // A plan file written by export is a copy: the plan keeps its own path and unsaved marker.
        #expect(reduce(&state, .exported(ExportOutcome(path: "m.qscope.json", format: .plan, bytes: 1_234, warnings: []))).isEmpty)
        #expect(state.notice == Notice("wrote m.qscope.json (plan, 1,234 bytes)"))
        #expect(state.savedPlan == before.savedPlan && state.planPath == before.planPath && state.hasUnsavedChanges)
        let message = "qscope: /nope/m.onnx: cannot write: the directory '/nope' does not exist"
        #expect(reduce(&state, .exportFailed(message: message)).isEmpty)
        #expect(state.notice == Notice(message, isError: true))
        #expect(state.plan == plan && state.savedPlan == before.savedPlan && state.hasUnsavedChanges)
        #expect(titleAndBottom(state).bottom.hasPrefix(message))
    }
}
