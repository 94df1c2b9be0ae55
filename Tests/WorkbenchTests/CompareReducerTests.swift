import Analysis
import Executor
import Testing
import Workbench

/// The Compare view and the SplitQuant toggle in the reducer: keys, engine events and effects.
@Suite("reducer: compare view and split")
struct CompareReducerTests {
    func send(_ state: inout AppState, _ keys: Key...) -> [Effect] {
        keys.flatMap { reduce(&state, .key($0)) }
    }

    /// A computed row with recognisable numbers.
    static func row(_ spec: String, accuracy: Double = 0.9) -> QuantizerComparison.Row {
        QuantizerComparison.Row(quantizer: spec, activations: nil, smoothedLayers: nil, bitsPerWeight: 3.5, sizeMB: 0.01,
                                denseSizeMB: nil, weightSQNR: 20, outputSQNR: 30, accuracy: accuracy, delta: accuracy - 0.92,
                                seconds: 0.5, fisherWeighted: false)
    }

    @Test("c opens the view on the selected layer at its bits and asks the engine; the rows are the CLI's")
    func openCompare() throws {
        var state = Fixtures.editedState()  // layer 4 at int3
        let effects = send(&state, .character("c"))
        let compare = try #require(state.compare)
        #expect(compare.layer == 4 && compare.bits == 3)
        #expect(compare.quantizers == (try QuantizerComparison.specs(bits: 3)).map(\.description))
        #expect(compare.cursor == 0)  // int3 is the first row and the layer's current spec
        #expect(effects == [.compareLayer(layer: 4, bits: 3, generation: compare.generation)])
        #expect(compare.rows.allSatisfy { $0 == nil } && compare.done == 0)
    }

    @Test("an FP32 layer is compared at 8 bits")
    func floatLayer() throws {
        var state = Fixtures.editedState()
        _ = send(&state, .end, .character("c"))  // fc is float
        #expect(state.compare?.bits == CompareState.floatBits)
    }

    @Test("rows fill in from engine events of the current generation only; finished and failed are shown")
    func events() throws {
        var state = Fixtures.editedState()
        _ = send(&state, .character("c"))
        let g = state.compare!.generation
        let names = state.compare!.quantizers
        _ = reduce(&state, .compare(.started(generation: g, layer: 4, bits: 3, quantizers: names)))
        _ = reduce(&state, .compare(.row(generation: g, index: 1, Self.row(names[1]))))
        _ = reduce(&state, .compare(.row(generation: g - 1, index: 0, Self.row(names[0]))))  // stale
        #expect(state.compare?.rows[1] == Self.row(names[1]))
        #expect(state.compare?.rows[0] == nil && state.compare?.done == 1)
        _ = reduce(&state, .compare(.finished(generation: g)))
        #expect(state.compare?.finished == true)
        _ = reduce(&state, .compare(.failed(generation: g, message: "boom")))
        #expect(state.compare?.error == "boom")
    }

    @Test("↑/↓ and j/k move over rows (clamped) while the view is open, not the layer selection")
    func cursor() {
        var state = Fixtures.editedState()
        _ = send(&state, .character("c"))
        let count = state.compare!.quantizers.count
        _ = send(&state, .down, .character("j"))
        #expect(state.compare?.cursor == 2 && state.selection == 4)
        _ = send(&state, .up, .character("k"), .up)
        #expect(state.compare?.cursor == 0)
        for _ in 0..<(count + 3) { _ = send(&state, .down) }
        #expect(state.compare?.cursor == count - 1)
    }

    @Test("enter applies the cursor row to the layer as an undoable edit (only once computed); u undoes it")
    func apply() throws {
        var state = Fixtures.editedState()
        _ = send(&state, .character("c"))
        let g = state.compare!.generation
        _ = send(&state, .down)  // int3:clip=mse
        let name = state.compare!.quantizers[1]
        #expect(send(&state, .enter).isEmpty)  // not computed yet
        #expect(state.plan.choices[4].weights == .int(3))
        _ = reduce(&state, .compare(.row(generation: g, index: 1, Self.row(name))))
        let before = state.plan
        let effects = send(&state, .enter)
        #expect(state.plan.choices[4].weights == (try QuantizerSpec(parsing: name)))
        #expect(state.undoStack.last == before)
        #expect(effects.contains(.evaluate(state.plan, generation: state.requestedGeneration)))
        // Same bits: the comparison keeps running, nothing restarts.
        #expect(state.compare?.generation == g)
        _ = send(&state, .character("u"))
        #expect(state.plan == before)
    }

    @Test("←/→ change the layer and restart the comparison (a new generation); so does a bit-width change")
    func restart() throws {
        var state = Fixtures.editedState()
        _ = send(&state, .character("c"))
        let first = state.compare!.generation
        let effects = send(&state, .left)
        #expect(state.selection == 3 && state.compare?.layer == 3 && state.compare?.bits == 8)
        #expect(state.compare!.generation > first)
        #expect(effects.contains(.compareLayer(layer: 3, bits: 8, generation: state.compare!.generation)))
        let second = state.compare!.generation
        _ = send(&state, .character("-"))  // int8 -> int6
        #expect(state.compare?.bits == 6 && state.compare!.generation > second)
        _ = send(&state, .right)
        #expect(state.selection == 4 && state.compare?.layer == 4)
    }

    @Test("esc and c close the view and cancel the comparison; events after that are ignored")
    func close() {
        var state = Fixtures.editedState()
        _ = send(&state, .character("c"))
        let g = state.compare!.generation
        #expect(send(&state, .escape) == [.cancelCompare])
        #expect(state.compare == nil)
        _ = reduce(&state, .compare(.finished(generation: g)))
        #expect(state.compare == nil)
        _ = send(&state, .character("c"))
        #expect(send(&state, .character("c")) == [.cancelCompare])
        #expect(state.compare == nil)
    }

    @Test("x toggles split3 on the selected layer's spec and back, each an undoable edit; FP32 layers refuse")
    func toggleSplit() throws {
        var state = Fixtures.editedState()
        let effects = send(&state, .character("x"))
        #expect(state.plan.choices[4].weights == (try QuantizerSpec(parsing: "split3:int3")))
        #expect(effects == [.evaluate(state.plan, generation: state.requestedGeneration)])
        _ = send(&state, .character("x"))
        #expect(state.plan.choices[4].weights == .int(3))
        _ = send(&state, .character("u"))
        #expect(state.plan.choices[4].weights?.description == "split3:int3")
        _ = send(&state, .end)
        let before = state.plan
        #expect(send(&state, .character("x")).isEmpty)
        #expect(state.plan == before && state.notice?.isError == true)
    }
}
