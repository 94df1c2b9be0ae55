import Analysis
import Executor
import Foundation
import Workbench

/// `qscope bench --workbench`: the workbench's speed targets, measured on the model and data given
/// (default: the sample CNN and its 2,000 images).
///
/// - frame: `renderScreen` of a 120x40 screen plus the terminal diff, into an in-memory backend;
///   "full" repaints every cell (first frame, resize), "edit" is the frame after one bit change.
/// - edit -> accuracy: `PlanEvaluator.evaluate` after changing one layer, for every layer in turn
///   (the edits accumulate). "cold" is the first edit of that layer straight after the edit of the
///   layer before, with no idle time between them (a fresh evaluator, with memory reserved once after
///   the open); "first" the same edit after
///   the engine's idle work between edits (`reserveBoundaryMemory`, `extendBoundaries`; untimed; no
///   prefetch of the edit itself); "repeat" a further edit of the same layer (what `-` pressed
///   again costs). Engine: the same through the `Engine` actor, including
///   its 15 ms debounce, from `submit` to the `.finished` event, for an edit the engine had
///   prefetched while idle (the selected layer's next setting), and for a first-layer edit pressed
///   50 ms into its prefetch (adopted, so it costs the rest of that pass).
enum WorkbenchBenchmark {
    static func run(model: Model, dataset: Dataset, batch: Int, frames: Int) async throws -> WorkbenchBenchReport {
        let clock = ContinuousClock()
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: batch)
        let names = model.layers.map(\.name)
        var plan = Plan(layerNames: names)
        var start = clock.now
        let reference = try await evaluator.evaluate(plan)
        let openMs = milliseconds(since: start)

        // Cold: every layer's first edit right after the previous layer's, on an evaluator of its own.
        let coldEvaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: batch)
        var coldPlan = Plan(layerNames: names)
        _ = try await coldEvaluator.evaluate(coldPlan)
        await coldEvaluator.reserveBoundaryMemory()  // what the engine does once the model is open
        var coldTimes: [Double] = []
        for k in names.indices {
            coldPlan.choices[k].weights = .int(8)
            start = clock.now
            _ = try await coldEvaluator.evaluate(coldPlan)
            coldTimes.append(milliseconds(since: start))
        }

        var perLayer: [WorkbenchBenchReport.LayerEdit] = []
        for k in names.indices {
            // What the engine does while idle after the previous edit.
            await evaluator.acceptIdleWorker()
            try await evaluator.extendBoundaries()
            await evaluator.reserveBoundaryMemory()
            plan.choices[k].weights = .int(8)
            start = clock.now
            let firstResult = try await evaluator.evaluate(plan)
            let first = milliseconds(since: start)
            plan.choices[k].weights = .int(4)
            start = clock.now
            let result = try await evaluator.evaluate(plan)
            let again = milliseconds(since: start)
            perLayer.append(.init(layer: names[k], coldMs: coldTimes[k], firstMs: first, repeatMs: again,
                                  firstResumedAtLayer: firstResult.resumedAtLayer, resumedAtLayer: result.resumedAtLayer))
        }

        // Through the engine: submit -> .finished (includes the debounce).
        let finished = FinishedEvents()
        let engine = Engine(evaluator: evaluator, post: finished.post)
        let middle = names.count / 2
        plan.choices[middle].weights = .int(3)
        _ = try await evaluator.evaluate(plan)  // warm the cut at `middle`
        plan.choices[middle].weights = .int(2)
        start = clock.now
        await engine.submit(plan, generation: 1)
        _ = await finished.next()
        let engineMs = milliseconds(since: start)

        // The same edit when the engine had prefetched it while idle (what `-` costs after a pause).
        var next = plan
        next.choices[middle].weights = .int(3)
        await engine.prefetch([next])
        await engine.settle()
        start = clock.now
        await engine.submit(next, generation: 2)
        _ = await finished.next()
        let prefetchedMs = milliseconds(since: start)

        // The first layer's next setting pressed 50 ms after the engine began prefetching it (the
        // selection had just moved there): the request adopts the prefetch in flight.
        var early = next
        early.choices[0].weights = WeightBitsLadder.down(early.choices[0].weights)
        await engine.prefetch([early])
        try await Task.sleep(for: .milliseconds(50))
        start = clock.now
        await engine.submit(early, generation: 3)
        _ = await finished.next()
        let adoptedMs = milliseconds(since: start)

        let walk = try await walkTheTable(model: model, dataset: dataset, batch: batch, pause: .milliseconds(250))

        // Frames.
        var summary = ModelSummary(model: model, dataPath: dataset.source, samples: dataset.count)
        summary.path = relativeToWorkingDirectory(model.path)
        var state = AppState(model: summary, size: Size(width: 120, height: 40), themeNames: ["dark", "light", "mono"])
        _ = initialEffects(&state)
        state.selection = middle
        state.plan = plan
        state.evaluation = try await evaluator.evaluate(plan)
        state.engine = .idle
        var terminal = Terminal(backend: MemoryBackend(size: state.size))
        var fullTimes: [Double] = [], editTimes: [Double] = []
        for i in 0..<frames {
            terminal.invalidate()
            start = clock.now
            terminal.draw { renderScreen(state, into: &$0) }
            fullTimes.append(milliseconds(since: start))
            // The frame after a key: one bit change (the evaluation pending).
            var edited = state
            _ = reduce(&edited, .key(i % 2 == 0 ? .character("-") : .character("+")))
            start = clock.now
            terminal.draw { renderScreen(edited, into: &$0) }
            editTimes.append(milliseconds(since: start))
        }
        return WorkbenchBenchReport(
            model: model.path, samples: dataset.count, layers: names.count, openMs: openMs, perLayer: perLayer,
            walkEditMs: walk, engineEditMs: engineMs, enginePrefetchedEditMs: prefetchedMs, engineAdoptedEditMs: adoptedMs,
            frameFullMs: fullTimes, frameEditMs: editTimes, batch: evaluator.batchSize,
            referenceAccuracy: reference.accuracy, engineLayer: middle)
    }

    /// A user walking down the Layers table: `-` on the selected layer, and `pause` after its
    /// accuracy shows, `↓`, and `pause` later `-` again, from the first layer to the last, in a
    /// freshly opened workbench (its reducer and engine, with the prefetches the reducer asks for
    /// while the engine is idle). Returns, per layer, the milliseconds from the `-` to the new accuracy.
    static func walkTheTable(model: Model, dataset: Dataset, batch: Int, pause: Duration) async throws -> [Double] {
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: batch)
        let finished = FinishedEvents()
        let engine = Engine(evaluator: evaluator, post: finished.post)
        let summary = ModelSummary(model: model, dataPath: dataset.source, samples: dataset.count)
        var state = AppState(model: summary, size: Size(width: 120, height: 40), themeNames: ["dark"])
        /// Runs the engine effects of `effects`; returns when a requested evaluation has finished and
        /// its result is reduced (the prefetches it triggers are started, not awaited).
        func execute(_ effects: [Effect]) async {
            for effect in effects {
                switch effect {
                case .evaluate(let plan, let generation):
                    await engine.submit(plan, generation: generation)
                    if let event = await finished.next() { await execute(reduce(&state, .engine(event))) }
                case .prefetch(let plans):
                    await engine.prefetch(plans)
                default:
                    break
                }
            }
        }
        await execute(initialEffects(&state))  // the FP32 pass of the open
        let clock = ContinuousClock()
        var times: [Double] = []
        for layer in model.layers.indices {
            try await Task.sleep(for: pause)
            if layer > 0 {
                await execute(reduce(&state, .key(.down)))
                try await Task.sleep(for: pause)
            }
            let start = clock.now
            await execute(reduce(&state, .key(.character("-"))))
            times.append(milliseconds(since: start))
        }
        await engine.cancel()
        await engine.settle()
        return times
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> Double {
        (ContinuousClock.now - start).seconds * 1000
    }
}

/// The engine's `.finished` events, in order, for a benchmark that waits for them one at a time
/// (from one task).
private final class FinishedEvents {
    private var iterator: AsyncStream<EngineEvent>.Iterator
    /// The engine's event callback: keeps the `.finished` events.
    let post: @Sendable (EngineEvent) -> Void

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: EngineEvent.self)
        iterator = stream.makeAsyncIterator()
        post = { event in
            if case .finished = event { continuation.yield(event) }
        }
    }

    /// The next `.finished` event (waits for it).
    func next() async -> EngineEvent? { await iterator.next() }
}
