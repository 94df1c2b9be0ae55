import Analysis
import Executor
import Foundation
import Synchronization
import Workbench

/// `qscope bench --workbench`: the workbench's speed targets (design.md §9), measured on the model
/// and data given (default: the sample CNN and its 2,000 images).
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
    struct Report {
        var lines: [String] = []
        var json: [String: Any] = [:]
    }

    static func run(model: Model, dataset: Dataset, batch: Int, frames: Int) throws -> Report {
        var report = Report()
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: batch)
        let names = model.layers.map(\.name)
        var plan = Plan(layerNames: names)
        let start = DispatchTime.now().uptimeNanoseconds
        let reference = try runBlocking { [plan] in try await evaluator.evaluate(plan) }
        let openMs = milliseconds(since: start)
        report.lines.append("model     \(model.path)  (\(names.count) layers, \(dataset.count) samples, batch \(evaluator.batchSize))")
        report.lines.append("open      FP32 pass + prefix cache fill: \(fixed(openMs, 1)) ms  (accuracy \(fixed(reference.accuracy * 100, 2)) %)")

        // Cold: every layer's first edit right after the previous layer's, on an evaluator of its own.
        let coldEvaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: batch)
        var coldPlan = Plan(layerNames: names)
        _ = try runBlocking { [coldPlan] in
            _ = try await coldEvaluator.evaluate(coldPlan)
            await coldEvaluator.reserveBoundaryMemory()  // what the engine does once the model is open
            return 0
        }
        var coldTimes: [Double] = []
        for k in names.indices {
            coldPlan.choices[k].weights = .int(8)
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try runBlocking { [coldPlan] in try await coldEvaluator.evaluate(coldPlan) }
            coldTimes.append(milliseconds(since: t0))
        }

        var firstTimes: [Double] = [], repeatTimes: [Double] = []
        var perLayer: [[String: Any]] = []
        for k in names.indices {
            // What the engine does while idle after the previous edit.
            _ = try runBlocking {
                await evaluator.acceptIdleWorker()
                try await evaluator.extendBoundaries()
                await evaluator.reserveBoundaryMemory()
                return 0
            }
            plan.choices[k].weights = .int(8)
            let t0 = DispatchTime.now().uptimeNanoseconds
            let firstResult = try runBlocking { [plan] in try await evaluator.evaluate(plan) }
            let first = milliseconds(since: t0)
            plan.choices[k].weights = .int(4)
            let t1 = DispatchTime.now().uptimeNanoseconds
            let result = try runBlocking { [plan] in try await evaluator.evaluate(plan) }
            let again = milliseconds(since: t1)
            firstTimes.append(first)
            repeatTimes.append(again)
            perLayer.append(["layer": names[k], "cold_ms": coldTimes[k], "first_ms": first, "repeat_ms": again,
                             "first_resumed_at_layer": firstResult.resumedAtLayer, "resumed_at_layer": result.resumedAtLayer])
            report.lines.append("edit      layer \(String(k).padding(toLength: 3, withPad: " ", startingAt: 0)) cold \(fixed(coldTimes[k], 1).leftPadded(6)) ms  first \(fixed(first, 1).leftPadded(6)) ms  repeat \(fixed(again, 1).leftPadded(6)) ms  (resumed at layer \(firstResult.resumedAtLayer), \(result.resumedAtLayer))  \(names[k])")
        }
        func figures(_ label: String, _ times: [Double]) -> String {
            "\(label): median \(fixed(median(times), 1)) ms, max \(fixed(times.max() ?? 0, 1)) ms"
        }
        report.lines.append("edit      \(figures("cold", coldTimes)); \(figures("first", firstTimes)); \(figures("repeat", repeatTimes))")

        // Through the engine: submit -> .finished (includes the debounce).
        let finished = Mutex<UInt64>(0)
        let done = DispatchSemaphore(value: 0)
        let engine = Engine(evaluator: evaluator) { event in
            if case .finished(let generation, _) = event {
                finished.withLock { $0 = generation }
                done.signal()
            }
        }
        let middle = names.count / 2
        plan.choices[middle].weights = .int(3)
        _ = try runBlocking { [plan] in try await evaluator.evaluate(plan) }  // warm the cut at `middle`
        plan.choices[middle].weights = .int(2)
        let t2 = DispatchTime.now().uptimeNanoseconds
        let submitted = plan
        Task { await engine.submit(submitted, generation: 1) }
        done.wait()
        let engineMs = milliseconds(since: t2)
        report.lines.append("engine    submit -> finished, repeat edit of layer \(middle): \(fixed(engineMs, 1)) ms (15 ms debounce included)")

        // The same edit when the engine had prefetched it while idle (what `-` costs after a pause).
        var next = plan
        next.choices[middle].weights = .int(3)
        let prefetched = next
        _ = try runBlocking {
            await engine.prefetch([prefetched])
            await engine.settle()
            return 0
        }
        let t4 = DispatchTime.now().uptimeNanoseconds
        Task { await engine.submit(prefetched, generation: 2) }
        done.wait()
        let prefetchedMs = milliseconds(since: t4)
        report.lines.append("engine    submit -> finished, edit prefetched while idle: \(fixed(prefetchedMs, 1)) ms (no debounce: cached)")

        // The first layer's next setting pressed 50 ms after the engine began prefetching it (the
        // selection had just moved there): the request adopts the prefetch in flight.
        var early = next
        early.choices[0].weights = WeightBitsLadder.down(early.choices[0].weights)
        let adopted = early
        _ = try runBlocking { await engine.prefetch([adopted]); return 0 }
        Thread.sleep(forTimeInterval: 0.05)
        let t5 = DispatchTime.now().uptimeNanoseconds
        Task { await engine.submit(adopted, generation: 3) }
        done.wait()
        let adoptedMs = milliseconds(since: t5)
        report.lines.append("engine    submit -> finished, layer 0 edit 50 ms into its prefetch (adopted): \(fixed(adoptedMs, 1)) ms")

        let walk = try walkTheTable(model: model, dataset: dataset, batch: batch, pause: 0.25)
        report.lines.append("walk      edit, ↓, edit ... through the engine, keys 250 ms apart: median \(fixed(median(walk), 1)) ms, max \(fixed(walk.max() ?? 0, 1)) ms  (per layer: \(walk.map { fixed($0, 1) }.joined(separator: ", ")))")

        // Frames.
        var summary = ModelSummary(model: model, dataPath: dataset.source, samples: dataset.count)
        summary.path = relativeToWorkingDirectory(model.path)
        var state = AppState(model: summary, size: Size(width: 120, height: 40), themeNames: ["dark", "light", "mono"])
        _ = initialEffects(&state)
        state.selection = middle
        state.plan = plan
        state.evaluation = try runBlocking { [plan] in try await evaluator.evaluate(plan) }
        state.engine = .idle
        var terminal = Terminal(backend: MemoryBackend(size: state.size))
        var fullTimes: [Double] = [], editTimes: [Double] = []
        for i in 0..<frames {
            terminal.invalidate()
            let t = DispatchTime.now().uptimeNanoseconds
            terminal.draw { renderScreen(state, into: &$0) }
            fullTimes.append(milliseconds(since: t))
            // The frame after a key: one bit change (the evaluation pending).
            var edited = state
            _ = reduce(&edited, .key(i % 2 == 0 ? .character("-") : .character("+")))
            let t3 = DispatchTime.now().uptimeNanoseconds
            terminal.draw { renderScreen(edited, into: &$0) }
            editTimes.append(milliseconds(since: t3))
        }
        report.lines.append("frame     120x40 full repaint: median \(fixed(median(fullTimes), 3)) ms, max \(fixed(fullTimes.max() ?? 0, 3)) ms; after an edit: median \(fixed(median(editTimes), 3)) ms (\(frames) frames)")
        report.json = [
            "model": model.path, "samples": dataset.count, "layers": names.count, "open_ms": openMs,
            "edit_repeat_median_ms": median(repeatTimes), "edit_repeat_max_ms": repeatTimes.max() ?? 0,
            "edit_first_median_ms": median(firstTimes), "edit_first_max_ms": firstTimes.max() ?? 0,
            "edit_cold_median_ms": median(coldTimes), "edit_cold_max_ms": coldTimes.max() ?? 0,
            "walk_edit_median_ms": median(walk), "walk_edit_max_ms": walk.max() ?? 0, "walk_edit_ms": walk,
            "engine_edit_ms": engineMs, "engine_prefetched_edit_ms": prefetchedMs, "engine_adopted_edit_ms": adoptedMs, "per_layer": perLayer,
            "frame_full_median_ms": median(fullTimes), "frame_full_max_ms": fullTimes.max() ?? 0,
            "frame_edit_median_ms": median(editTimes),
        ]
        return report
    }

    /// A user walking down the Layers table: `-` on the selected layer, and `pause` seconds after its
    /// accuracy shows, `↓`, and `pause` seconds later `-` again, from the first layer to the last, in
    /// a freshly opened workbench (its reducer and engine, with the prefetches the reducer asks for
    /// while the engine is idle). Returns, per layer, the time from the `-` to the new accuracy.
    static func walkTheTable(model: Model, dataset: Dataset, batch: Int, pause: TimeInterval) throws -> [Double] {
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: batch)
        let finished = Mutex<EngineEvent?>(nil)
        let done = DispatchSemaphore(value: 0)
        let engine = Engine(evaluator: evaluator) { event in
            if case .finished = event {
                finished.withLock { $0 = event }
                done.signal()
            }
        }
        let summary = ModelSummary(model: model, dataPath: dataset.source, samples: dataset.count)
        var state = AppState(model: summary, size: Size(width: 120, height: 40), themeNames: ["dark"])
        /// Runs the engine effects of `effects`; returns when a requested evaluation has finished and
        /// its result is reduced (the prefetches it triggers are started, not awaited).
        func execute(_ effects: [Effect]) {
            for effect in effects {
                switch effect {
                case .evaluate(let plan, let generation):
                    Task { await engine.submit(plan, generation: generation) }
                    done.wait()
                    if let event = finished.withLock({ $0 }) { execute(reduce(&state, .engine(event))) }
                case .prefetch(let plans):
                    Task { await engine.prefetch(plans) }
                default:
                    break
                }
            }
        }
        execute(initialEffects(&state))  // the FP32 pass of the open
        var times: [Double] = []
        for layer in model.layers.indices {
            Thread.sleep(forTimeInterval: pause)
            if layer > 0 {
                execute(reduce(&state, .key(.down)))
                Thread.sleep(forTimeInterval: pause)
            }
            let t = DispatchTime.now().uptimeNanoseconds
            execute(reduce(&state, .key(.character("-"))))
            times.append(milliseconds(since: t))
        }
        _ = try runBlocking { await engine.cancel(); await engine.settle(); return 0 }
        return times
    }

    static func milliseconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        return values.sorted()[values.count / 2]
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
