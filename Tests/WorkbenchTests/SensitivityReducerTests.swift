import Analysis
import Executor
import Foundation
import Testing
import Workbench

/// The reducer's sensitivity parts: when the analysis starts, what its events change (and what they
/// must not), the sort key, and Ω at the current choice.
@Suite("sensitivity reducer")
struct SensitivityReducerTests {
    func send(_ state: inout AppState, _ keys: Key...) -> [Effect] {
        keys.flatMap { reduce(&state, .key($0)) }
    }

    @Test("the analysis is asked for once, after the first result of the current request")
    func startsAfterFirstResult() {
        var state = AppState(model: Fixtures.model, themeNames: ["dark"])
        _ = initialEffects(&state)
        let generation = state.requestedGeneration
        #expect(reduce(&state, .engine(.started(generation: generation))).isEmpty)
        #expect(reduce(&state, .engine(.progress(generation: generation, done: 1, total: 8))).isEmpty)
        #expect(state.sensitivity.phase == .waiting)
        // A stale result does not start it.
        #expect(!reduce(&state, .engine(.finished(generation: generation - 1, Fixtures.evaluation(state.plan)))).contains(.startSensitivity))
        let effects = reduce(&state, .engine(.finished(generation: generation, Fixtures.evaluation(state.plan))))
        #expect(effects.first == .startSensitivity)
        #expect(state.sensitivity.phase == .starting)
        // Later results never ask again.
        _ = send(&state, .character("-"))
        #expect(!reduce(&state, .engine(.finished(generation: state.requestedGeneration, Fixtures.evaluation(state.plan)))).contains(.startSensitivity))
    }

    @Test("a failed first evaluation starts the analysis too (it runs on the FP32 model)")
    func startsAfterFailure() {
        var state = AppState(model: Fixtures.model, themeNames: ["dark"])
        _ = initialEffects(&state)
        #expect(reduce(&state, .engine(.failed(generation: state.requestedGeneration, message: "boom"))) == [.startSensitivity])
    }

    @Test("a partial analysis result updates the traces and touches neither the plan nor the history")
    func partialResultLeavesPlanAlone() {
        var state = Fixtures.editedState()
        _ = send(&state, .character("-"))  // an evaluation is pending, with undo history
        let before = state
        #expect(reduce(&state, .sensitivity(.started(samples: 512, maxProbes: 200, tolerance: 0.02))).isEmpty)
        #expect(reduce(&state, .sensitivity(.hessian(SensitivityFixtures.report(probes: 8, partial: true)))).isEmpty)
        #expect(state.plan == before.plan)
        #expect(state.savedPlan == before.savedPlan)
        #expect(state.undoStack == before.undoStack)
        #expect(state.redoStack == before.redoStack)
        #expect(state.evaluation == before.evaluation)
        #expect(state.requestedGeneration == before.requestedGeneration)
        #expect(state.engine == before.engine)
        #expect(state.selection == before.selection)
        #expect(state.sensitivity.phase == .running)
        #expect(state.sensitivity.probes == 8)
        #expect(state.sensitivity.maxProbes == 200)
        #expect(state.sensitivity.trace(0)?.trace == SensitivityFixtures.traces[0])
        // Settled: standard error within 2 % of the trace; layer 3 (3.4 %) is not.
        #expect(state.sensitivity.isSettled(0))
        #expect(!state.sensitivity.isSettled(3))
        // The final report ends the run; every trace counts as settled then.
        _ = reduce(&state, .sensitivity(.hessian(SensitivityFixtures.report(probes: 64, partial: false))))
        #expect(state.sensitivity.phase == .finished)
        #expect(state.sensitivity.isSettled(3))
        #expect(state.plan == before.plan)
        // Undo still undoes the edit, not anything about the analysis.
        _ = send(&state, .character("u"))
        #expect(state.plan == before.undoStack.last)
        #expect(state.sensitivity.probes == 64)
    }

    @Test("clusters and activation statistics are kept per layer, in any order, and leave the plan alone")
    func clustersAndActivations() {
        var state = Fixtures.editedState()
        let before = state
        #expect(reduce(&state, .sensitivity(.activations(layer: 5, SensitivityFixtures.activations(5)))).isEmpty)
        #expect(reduce(&state, .sensitivity(.outliers(layer: 2, SensitivityFixtures.outliers(2)))).isEmpty)
        #expect(state.sensitivity.activations(5) == SensitivityFixtures.activations(5))
        #expect(state.sensitivity.activations(4) == nil)
        #expect(state.sensitivity.activations(8) == nil)
        #expect(state.sensitivity.outliers(2) == SensitivityFixtures.outliers(2))
        #expect(state.sensitivity.outliers(0) == nil)
        #expect(state.plan == before.plan && state.undoStack == before.undoStack && state.evaluation == before.evaluation)
    }

    @Test("a failure is kept with its message")
    func failure() {
        var state = Fixtures.openedState()
        _ = reduce(&state, .sensitivity(.failed(message: "model.onnx: the output is not a class-score vector")))
        #expect(state.sensitivity.phase == .failed("model.onnx: the output is not a class-score vector"))
        #expect(state.notice == Notice("sensitivity analysis: model.onnx: the output is not a class-score vector", isError: true))
    }

    @Test("S and F6 cycle the sort order: model, trace, Ω, size, model")
    func sortKeyCycles() {
        var state = SensitivityFixtures.analysing(Fixtures.editedState())
        let plan = state.plan
        #expect(state.layerSort == .model)
        #expect(send(&state, .character("S")).isEmpty)
        #expect(state.layerSort == .trace)
        _ = send(&state, .function(6))
        #expect(state.layerSort == .omega)
        _ = send(&state, .character("S"))
        #expect(state.layerSort == .size)
        _ = send(&state, .character("S"))
        #expect(state.layerSort == .model)
        #expect(state.plan == plan)
        #expect(state.selection == 4)
    }

    @Test("sorted by trace: rows by descending trace; j/k move by row and edits act on the selected layer")
    func sortedNavigation() {
        var state = SensitivityFixtures.analysing(Fixtures.editedState())
        _ = send(&state, .character("S"))
        let expected = SensitivityFixtures.traces.indices.sorted { SensitivityFixtures.traces[$0] > SensitivityFixtures.traces[$1] }
        #expect(state.layerOrder == expected)
        _ = send(&state, .character("g"))
        #expect(state.selection == expected[0])
        _ = send(&state, .character("j"))
        #expect(state.selection == expected[1])
        _ = send(&state, .character("G"))
        #expect(state.selection == expected.last)
        _ = send(&state, .character("k"))
        #expect(state.selection == expected[expected.count - 2])
        let layer = state.selection
        let bits = state.plan.choices[layer].weightBits
        _ = send(&state, .character("-"))
        #expect(state.plan.choices[layer].weightBits < bits)
    }

    @Test("sorted before any trace: model order (missing values keep model order)")
    func sortedWithoutTraces() {
        var state = Fixtures.openedState()
        _ = send(&state, .character("S"))
        #expect(state.layerOrder == Array(0..<9))
    }

    @Test("sorted by size: largest current size first, ties in model order")
    func sortedBySize() {
        var state = Fixtures.editedState()
        _ = send(&state, .character("S"), .character("S"), .character("S"))
        #expect(state.layerSort == .size)
        let bits = state.layerOrder.map { state.layerResult($0)!.totalBits }
        #expect(bits == bits.sorted(by: >))
    }

    @Test("a click on a row of a sorted table selects the layer shown there")
    func clickSorted() {
        var state = SensitivityFixtures.analysing(Fixtures.editedState())
        _ = send(&state, .character("S"))
        let rows = state.layout.layerRows
        _ = reduce(&state, .mouse(MouseEvent(.press, x: rows.x + 10, y: rows.y + 2)))
        #expect(state.selection == state.layerOrder[2])
    }

    @Test("with traces arriving while sorted by trace, the selection stays on screen")
    func selectionVisibleWhileSorted() {
        var state = Fixtures.editedState(size: Size(width: 80, height: 20))
        let rows = state.layout.visibleLayerRows
        #expect(rows < 9)
        _ = send(&state, .character("S"))
        _ = send(&state, .character("G"))  // model order still: layer 8, scrolled to the end
        #expect(state.selection == 8)
        _ = reduce(&state, .sensitivity(.hessian(SensitivityFixtures.report(probes: 8, partial: true))))
        // Layer 8 has the smallest trace: still the last row, still visible.
        let row = state.layerOrder.firstIndex(of: state.selection)!
        #expect(row >= state.scroll && row < state.scroll + rows)
        _ = send(&state, .character("g"))
        #expect(state.selection == 0)
        #expect(state.scroll == 0)
    }

    @Test("Ω: the report's value at 2/3/4/8 bits; from the SQNR of the current spec otherwise; 0 for float")
    func omegaAtCurrentChoice() {
        var state = SensitivityFixtures.analysing(Fixtures.editedState())
        let report = SensitivityFixtures.report(probes: 48, partial: true)
        // Layer 4 is int3: the estimator's Ω(3).
        #expect(state.omega(4) == report.layers[4].omega[3])
        // Layer 8 is float: no perturbation.
        #expect(state.omega(8) == 0)
        // int5 is not in {2,3,4,8}: trace/#params · ‖W‖² · 10^(−SQNR/10), ‖W‖² summed from the raw weights.
        var plan = state.plan
        plan.choices[2].weights = .int(5)
        state.plan = plan
        #expect(state.omega(2) == nil)  // the evaluation of this choice has not landed
        state.evaluation = Fixtures.evaluation(plan)
        let expected = SensitivityFixtures.traces[2] / Double(Fixtures.model.layers[2].parameters) * SensitivityFixtures.squaredError(2, bits: 5)
        let omega = try! #require(state.omega(2))
        // 1e-6: ‖W‖² from the summary's float moments vs summed directly in Double.
        #expect(abs(omega - expected) <= 1e-6 * expected)
    }
}
