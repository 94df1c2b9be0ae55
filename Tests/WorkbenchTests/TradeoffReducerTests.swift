import Analysis
import Executor
import Testing
import Workbench

/// The reducer's parts for `a` (allocation), `T` (Trade-off pane), `e` (export dialog) and the
/// scrolling help: every key and prompt path, with fixed numbers (no engine runs here).
@Suite("trade-off reducer")
struct TradeoffReducerTests {
    func send(_ state: inout AppState, _ keys: Key...) -> [Effect] {
        keys.flatMap { reduce(&state, .key($0)) }
    }

    func type(_ state: inout AppState, _ text: String) -> [Effect] {
        text.flatMap { reduce(&state, .key(.character($0))) }
    }

    /// The export dialog when it is the open overlay.
    func openExportDialog(_ state: AppState) -> ExportDialog? {
        if case .export(let dialog)? = state.overlay { return dialog }
        return nil
    }

    /// The opened fixture with a partial trace estimate of `probes` probes (or a final one).
    func withTraces(probes: Int = 48, partial: Bool = true, size: Size = Size(width: 120, height: 40)) -> AppState {
        var state = Fixtures.openedState(size: size)
        _ = reduce(&state, .sensitivity(.started(samples: 512, maxProbes: 200, tolerance: 0.02)))
        _ = reduce(&state, .sensitivity(.hessian(SensitivityFixtures.report(probes: probes, partial: partial))))
        return state
    }

    var fixtureTraces: [Double] {
        SensitivityFixtures.report(probes: 48, partial: true).layers.map(\.tracePerParameter)
    }

    /// An allocation result for the fixture: int4 everywhere but layer 2 at int2.
    func allocation() -> HAWQAllocation.Result {
        var plan = Fixtures.floatPlan
        for i in plan.choices.indices { plan.choices[i].weights = .int(4) }
        plan.choices[2].weights = .int(2)
        let parameters = Fixtures.model.layers.reduce(0) { $0 + $1.parameters }
        return HAWQAllocation.Result(plan: plan, choices: [], totalBits: 4 * parameters, parameters: parameters,
                                     budgetBits: 4 * parameters, omega: 1e-3, resolutionBits: 8)
    }

    @Test("a asks for a budget; a valid one in bits/w starts the allocation from the traces so far")
    func allocateBits() {
        var state = withTraces()
        #expect(send(&state, .character("a")).isEmpty)
        #expect(state.overlay == .prompt(Prompt(.budget, text: "")))
        _ = type(&state, "3.5")
        let effects = send(&state, .enter)
        #expect(effects == [.allocate(.averageBits(3.5), tracesPerParameter: fixtureTraces, generation: 1)])
        #expect(state.overlay == nil)
        #expect(state.tradeoff.allocation == .running(.averageBits(3.5), probes: 48, final: false))
        #expect(state.notice?.text == "allocating for 3.5 bits/w from 48 probes (traces not final)")
        // The next `a` proposes the last budget.
        _ = send(&state, .character("a"))
        #expect(state.overlay == .prompt(Prompt(.budget, text: "3.5")))
    }

    @Test("a budget in MB (with or without a space) and final traces")
    func allocateMegabytes() {
        for text in ["0.05MB", "0.05 MB", "0.05mb"] {
            var state = withTraces(probes: 200, partial: false)
            _ = send(&state, .character("a"))
            _ = type(&state, text)
            #expect(send(&state, .enter) == [.allocate(.megabytes(0.05), tracesPerParameter: fixtureTraces, generation: 1)])
            #expect(state.notice?.text == "allocating for 0.05 MB from 200 probes")
        }
    }

    @Test("bad budgets: one error line, nothing started", arguments: ["abc", "0", "-2", "", "40", "3.5 GB"])
    func invalidBudget(_ text: String) {
        var state = withTraces()
        _ = send(&state, .character("a"))
        _ = type(&state, text)
        #expect(send(&state, .enter).isEmpty)
        #expect(state.notice?.isError == true)
        #expect(state.notice.map { !$0.text.contains("\n") && $0.text.contains("budget") } == true)
        #expect(state.tradeoff.allocation == .none)
        #expect(state.tradeoff.allocationGeneration == 0)
    }

    @Test("Esc cancels the budget prompt")
    func cancelBudget() {
        var state = withTraces()
        _ = send(&state, .character("a"))
        _ = type(&state, "3")
        #expect(send(&state, .escape).isEmpty)
        #expect(state.overlay == nil)
        #expect(state.tradeoff.allocation == .none)
    }

    @Test("without traces the allocation waits, says so, and starts with the first estimate")
    func waitsForTraces() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("a"))
        _ = type(&state, "4")
        #expect(send(&state, .enter).isEmpty)
        #expect(state.tradeoff.allocation == .waitingForTraces(.averageBits(4)))
        #expect(state.notice?.text == "allocation for 4 bits/w waits for the first Hessian traces")
        // Keys still work while it waits.
        _ = send(&state, .character("j"))
        #expect(state.selection == 1)
        #expect(reduce(&state, .sensitivity(.started(samples: 512, maxProbes: 200, tolerance: 0.02))).isEmpty)
        let effects = reduce(&state, .sensitivity(.hessian(SensitivityFixtures.report(probes: 8, partial: true))))
        #expect(effects == [.allocate(.averageBits(4), tracesPerParameter: fixtureTraces, generation: 2)])
        #expect(state.tradeoff.allocation == .running(.averageBits(4), probes: 8, final: false))
    }

    @Test("a failed analysis ends a waiting allocation with an error line")
    func failedAnalysis() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("a"))
        _ = type(&state, "4")
        _ = send(&state, .enter)
        #expect(reduce(&state, .sensitivity(.failed(message: "out of memory"))).isEmpty)
        #expect(state.tradeoff.allocation == .none)
        #expect(state.notice == Notice("cannot allocate without Hessian traces: out of memory", isError: true))
    }

    @Test("the allocation lands as one undoable edit; u restores the previous plan, Ctrl-R the allocation")
    func undoAfterAllocation() {
        var state = withTraces()
        let before = state.plan
        let undoDepth = state.undoStack.count
        _ = send(&state, .character("a"))
        _ = type(&state, "3.5")
        _ = send(&state, .enter)
        let result = allocation()
        let effects = reduce(&state, .tradeoff(.allocated(generation: 1, result)))
        #expect(state.plan == result.plan)
        #expect(state.undoStack.count == undoDepth + 1)
        #expect(effects == [.evaluate(result.plan, generation: state.requestedGeneration)])
        #expect(state.tradeoff.allocation == .none)
        #expect(state.notice?.text.hasPrefix("HAWQ 3.5 bits/w: 4.000 bits/w, ") == true)
        #expect(state.notice?.text.contains("(48 probes, not final) · u undoes") == true)
        _ = send(&state, .character("u"))
        #expect(state.plan == before)
        _ = send(&state, .control("r"))
        #expect(state.plan == result.plan)
    }

    @Test("a superseded or unexpected allocation answer changes nothing")
    func staleAllocation() {
        var state = withTraces()
        _ = send(&state, .character("a"))
        _ = type(&state, "3.5")
        _ = send(&state, .enter)
        _ = send(&state, .character("a"))
        _ = send(&state, .control("u"))
        _ = type(&state, "5")
        _ = send(&state, .enter)
        let before = state.plan
        #expect(reduce(&state, .tradeoff(.allocated(generation: 1, allocation()))).isEmpty)
        #expect(state.plan == before)
        #expect(reduce(&state, .tradeoff(.allocationFailed(generation: 1, message: "old"))).isEmpty)
        #expect(state.tradeoff.allocation == .running(.averageBits(5), probes: 48, final: false))
        _ = reduce(&state, .tradeoff(.allocationFailed(generation: 2, message: "--avg-bits 5.0 is below the smallest plan")))
        #expect(state.notice == Notice("allocation: --avg-bits 5.0 is below the smallest plan", isError: true))
        #expect(state.plan == before)
    }

    @Test("T opens the pane (uniform sweep first), closes the Compare view; final traces add the HAWQ sweep once")
    func tradeoffPane() {
        var state = withTraces()
        _ = send(&state, .character("c"))
        #expect(state.compare != nil)
        let rowsBefore = state.layout.visibleLayerRows
        let effects = send(&state, .character("T"))
        #expect(effects == [.cancelCompare, .sweepTradeoff(tracesPerParameter: nil, generation: 1)])
        #expect(state.compare == nil && state.tradeoff.isVisible)
        #expect(state.layout.visibleLayerRows <= rowsBefore)
        #expect(state.tradeoff.sweep == .running(done: 0, total: 0))
        // Final traces: the sweep with the HAWQ plans starts; later estimates do not restart it.
        let final = reduce(&state, .sensitivity(.hessian(SensitivityFixtures.report(probes: 120, partial: false))))
        #expect(final == [.sweepTradeoff(tracesPerParameter: fixtureTraces, generation: 2)])
        #expect(reduce(&state, .sensitivity(.hessian(SensitivityFixtures.report(probes: 120, partial: false)))).isEmpty)
        // Closing and reopening does not sweep again.
        #expect(send(&state, .character("T")).isEmpty)
        #expect(!state.tradeoff.isVisible)
        #expect(send(&state, .character("T")).isEmpty)
    }

    @Test("sweep events: plan counts, points (kept once per plan), progress; stale progress ignored")
    func sweepEvents() {
        var state = withTraces()
        _ = send(&state, .character("T"))
        _ = reduce(&state, .tradeoff(.sweepPlanned(generation: 1, hawq: 0, distinct: 0, total: 5)))
        #expect(state.tradeoff.sweep == .running(done: 0, total: 5))
        var plan = Fixtures.floatPlan
        for i in plan.choices.indices { plan.choices[i].weights = .int(8) }
        let point = TradeoffPoint(source: .uniform, evaluation: Fixtures.evaluation(plan, correct: 1850))
        _ = reduce(&state, .tradeoff(.sweepPoint(generation: 1, point, done: 1)))
        _ = reduce(&state, .tradeoff(.sweepPoint(generation: 1, point, done: 2)))
        #expect(state.tradeoff.points == [point])
        #expect(state.tradeoff.sweep == .running(done: 2, total: 5))
        _ = reduce(&state, .tradeoff(.sweepFinished(generation: 0, seconds: 1)))
        #expect(state.tradeoff.sweep == .running(done: 2, total: 5))
        _ = reduce(&state, .tradeoff(.sweepFinished(generation: 1, seconds: 2.5)))
        #expect(state.tradeoff.sweep == .finished(seconds: 2.5))
        // The FP32 evaluation of the session (opened state) and the int8 point: int8 is smaller, and
        // FP32 (1857 correct) is more accurate, so both are on the front.
        #expect(state.tradeoff.history.count == 1)
        #expect(Set(state.tradeoff.front.map(\.plan)) == [plan, Fixtures.floatPlan])
    }

    @Test("every evaluation of the current plan joins the session points, once per plan")
    func history() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("-"))
        _ = reduce(&state, .engine(.finished(generation: state.requestedGeneration, Fixtures.evaluation(state.plan))))
        _ = send(&state, .character("u"))
        _ = reduce(&state, .engine(.finished(generation: state.requestedGeneration, Fixtures.evaluation(state.plan))))
        #expect(state.tradeoff.history.count == 2)
        #expect(state.tradeoff.history.allSatisfy { $0.source == .session })
    }

    @Test("e: format cycles with Tab and arrows, the default path follows until edited, Enter exports")
    func exportDialog() throws {
        var state = Fixtures.editedState()
        #expect(send(&state, .character("e")).isEmpty)
        #expect(state.overlay == .export(ExportDialog(format: .onnxQDQ, modelPath: "sample-models/cnn.onnx")))
        let first = try #require(openExportDialog(state))
        #expect(first.path == "sample-models/cnn.qdq.onnx")
        _ = send(&state, .tab)
        let second = try #require(openExportDialog(state))
        #expect(second.format == .aimet && second.path == "sample-models/cnn.encodings.json")
        _ = send(&state, .right, .right)
        let fourth = try #require(openExportDialog(state))
        #expect(fourth.format == .plan && fourth.path == "sample-models/cnn.qscope.json")
        _ = send(&state, .right)
        let wrapped = try #require(openExportDialog(state))
        #expect(wrapped.format == .onnxQDQ)
        _ = send(&state, .left)
        _ = send(&state, .control("u"))
        _ = type(&state, "out/p.json")
        _ = send(&state, .backspace)
        _ = send(&state, .up)  // the edited path stays
        let edited = try #require(openExportDialog(state))
        #expect(edited.format == .ortOverrides && edited.path == "out/p.jso" && edited.pathEdited)
        let effects = send(&state, .enter)
        #expect(effects == [.export(state.plan, format: .ortOverrides, path: "out/p.jso")])
        #expect(state.overlay == nil)
        #expect(state.notice?.text == "exporting ort-overrides to out/p.jso…")
    }

    @Test("export dialog: Esc cancels, an empty path is refused, results become one notice")
    func exportOutcomes() {
        var state = Fixtures.editedState()
        _ = send(&state, .character("e"))
        #expect(send(&state, .escape).isEmpty)
        #expect(state.overlay == nil)
        _ = send(&state, .character("e"), .control("u"))
        #expect(send(&state, .enter).isEmpty)
        #expect(state.notice == Notice("no path given", isError: true))
        _ = reduce(&state, .exported(ExportOutcome(path: "m.qdq.onnx", format: .onnxQDQ, bytes: 89_561,
                                                   warnings: ["baked into float weights: /fc/Gemm (pot)"])))
        #expect(state.notice == Notice("wrote m.qdq.onnx (onnx-qdq, 89,561 bytes) · warning: baked into float weights: /fc/Gemm (pot)"))
        _ = reduce(&state, .exportFailed(message: "qscope: /nope/m.onnx: cannot write: the directory '/nope' does not exist"))
        #expect(state.notice?.isError == true)
    }

    @Test("? at 80x24 scrolls with ↓/↑/PgDn and closes on any other key; on a screen it fits it does not scroll")
    func helpScroll() {
        var state = Fixtures.openedState(size: Size(width: 80, height: 24))
        _ = send(&state, .character("?"))
        _ = send(&state, .down, .down, .character("j"))
        #expect(state.overlay == .help && state.helpScroll == 3)
        _ = send(&state, .up)
        #expect(state.helpScroll == 2)
        for _ in 0..<10 { _ = send(&state, .pageDown) }
        let bottom = state.helpScroll
        #expect(bottom > 2)
        _ = send(&state, .pageDown)
        #expect(state.helpScroll == bottom)
        _ = send(&state, .character("q"))
        #expect(state.overlay == nil && state.helpScroll == 0 && !state.quitting)

        var wide = Fixtures.openedState(size: Size(width: 200, height: 60))
        _ = send(&wide, .character("?"))
        _ = send(&wide, .down)
        #expect(wide.overlay == nil)
    }

    @Test("budget text: bits, MB spellings and the refusals", arguments: [
        ("3.5", SizeBudget.averageBits(3.5)), ("4 bits", .averageBits(4)), (" 2.25b ", .averageBits(2.25)),
        ("0.05MB", .megabytes(0.05)), ("0.05 MB", .megabytes(0.05)), ("1.5 MiB", .megabytes(1.5)),
    ])
    func budgetParsing(_ text: String, _ expected: SizeBudget) throws {
        #expect(try BudgetInput.parse(text) == expected)
    }
}
