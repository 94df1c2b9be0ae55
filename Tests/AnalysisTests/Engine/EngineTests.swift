import Executor
import Foundation
import Synchronization
import Testing
import Analysis

/// The engine's scheduling (latest wins, debounce, cancellation) with a stand-in evaluator. Slow
/// evaluations are held at `Gate`s or suspended until cancelled (`untilCancelled`), and every wait is
/// bounded (`finishesInTime`), so a scheduling regression fails these tests instead of hanging them.
@Suite("engine")
struct EngineTests {
    /// Collects posted events (from any thread).
    final class EventLog: Sendable {
        private let events = Mutex<[EngineEvent]>([])
        func append(_ event: EngineEvent) { events.withLock { $0.append(event) } }
        var all: [EngineEvent] { events.withLock { $0 } }
    }

    /// Records which plans the stand-in evaluator was asked for.
    final class Calls: Sendable {
        private let plans = Mutex<[Plan]>([])
        func append(_ plan: Plan) { plans.withLock { $0.append(plan) } }
        var all: [Plan] { plans.withLock { $0 } }
    }

    static let names = ["a", "b", "c"]

    static func plan(_ bits: Int) -> Plan {
        var plan = Plan(layerNames: names)
        plan.choices[1].weights = .int(bits)
        return plan
    }

    static func fakeResult(_ plan: Plan) -> PlanEvaluation {
        let layers = names.map { _ in LayerQuantization.float(parameters: 10) }
        return PlanEvaluation(plan: plan, samples: 10,
                              metrics: FidelityMetrics(accuracy: 0.9, agreement: 1, cosineMean: 1, cosineMin: 1, sqnrDB: 40, kl: 0),
                              referenceMetrics: FidelityMetrics(accuracy: 0.9, agreement: 1, cosineMean: 1, cosineMin: 1,
                                                                sqnrDB: .infinity, kl: 0),
                              headline: .accuracy, correct: 9, agreement: 10, positions: 10, referenceCorrect: 9, layers: layers,
                              size: PlanSize(layers), referenceSize: PlanSize(layers), seconds: 0, resumedAtLayer: 0)
    }

    @Test("a burst of edits within the debounce window yields exactly one evaluation, of the last plan")
    func burst() async throws {
        let clock = ManualClock()
        let log = EventLog(), calls = Calls()
        let engine = Engine(clock: clock, debounce: .milliseconds(20), evaluate: { plan, progress in
            calls.append(plan)
            progress(1, 1)
            return Self.fakeResult(plan)
        }, post: log.append)
        for (generation, bits) in [(1, 8), (2, 6), (3, 4)] {
            await engine.submit(Self.plan(bits), generation: UInt64(generation))
        }
        #expect(await clock.waitForSleepers(1))
        #expect(calls.all.isEmpty)
        clock.advance(by: .milliseconds(20))
        guard await finishesInTime("the debounced evaluation", { await engine.settle() }) else { return }
        #expect(calls.all == [Self.plan(4)])
        #expect(log.all == [.started(generation: 3), .progress(generation: 3, done: 1, total: 1),
                            .finished(generation: 3, Self.fakeResult(Self.plan(4)))])
        // An older generation arriving late is ignored.
        await engine.submit(Self.plan(2), generation: 2)
        guard await finishesInTime("the engine to settle", { await engine.settle() }) else { return }
        #expect(calls.all.count == 1)
    }

    @Test("a cancelled evaluation publishes nothing after the cancellation, even if it returns a result")
    func cancelled() async throws {
        let log = EventLog()
        let entered = Gate()
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { plan, progress in
            progress(1, 3)
            entered.open()
            // Work until cancelled, then pretend to finish anyway.
            await untilCancelled()
            progress(2, 3)
            return Self.fakeResult(plan)
        }, post: log.append)
        await engine.submit(Self.plan(4), generation: 1)
        guard await finishesInTime("the evaluation to start", { await entered.wait() }) else { return }
        await engine.cancel()
        guard await finishesInTime("the cancelled evaluation to stop", { await engine.settle() }) else { return }
        #expect(log.all == [.started(generation: 1), .progress(generation: 1, done: 1, total: 3)])
    }

    @Test("a superseded running evaluation is cancelled and the next one runs after it stopped")
    func supersededWhileRunning() async throws {
        let log = EventLog(), calls = Calls()
        let running = Mutex<Int>(0), overlap = Mutex<Bool>(false)
        let entered = Gate()
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { plan, _ in
            let concurrent = running.withLock { $0 += 1; return $0 }
            if concurrent > 1 { overlap.withLock { $0 = true } }
            calls.append(plan)
            if plan == Self.plan(8) {
                entered.open()
                await untilCancelled()
            }
            running.withLock { $0 -= 1 }
            try Task.checkCancellation()
            return Self.fakeResult(plan)
        }, post: log.append)
        await engine.submit(Self.plan(8), generation: 1)
        guard await finishesInTime("the first evaluation to start", { await entered.wait() }) else { return }
        await engine.submit(Self.plan(3), generation: 2)
        guard await finishesInTime("the second evaluation", { await engine.settle() }) else { return }
        #expect(!overlap.withLock { $0 })
        #expect(calls.all == [Self.plan(8), Self.plan(3)])
        let finished = log.all.filter { if case .finished = $0 { return true } else { return false } }
        #expect(finished == [.finished(generation: 2, Self.fakeResult(Self.plan(3)))])
    }

    @Test("prefetch evaluates silently after the current request; a submit cancels it")
    func prefetch() async throws {
        let log = EventLog(), calls = Calls()
        let prefetching5 = Gate()
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { plan, progress in
            calls.append(plan)
            progress(1, 1)
            if plan == Self.plan(5) {
                prefetching5.open()
                await untilCancelled()
            }
            return Self.fakeResult(plan)
        }, post: log.append)
        await engine.prefetch([Self.plan(8), Self.plan(6)])
        guard await finishesInTime("the first prefetch", { await engine.settle() }) else { return }
        #expect(calls.all == [Self.plan(8), Self.plan(6)])
        #expect(log.all.isEmpty)
        await engine.prefetch([Self.plan(5), Self.plan(7)])
        guard await finishesInTime("the prefetch of plan 5 to start", { await prefetching5.wait() }) else { return }
        await engine.submit(Self.plan(2), generation: 1)
        guard await finishesInTime("the submitted evaluation", { await engine.settle() }) else { return }
        #expect(calls.all == [Self.plan(8), Self.plan(6), Self.plan(5), Self.plan(2)])
        #expect(log.all.last == .finished(generation: 1, Self.fakeResult(Self.plan(2))))
    }

    @Test("idle work runs before and after a prefetch's plans, and not after a cancelled prefetch")
    func idleWorkOrder() async throws {
        let steps = Mutex<[String]>([])
        let record: @Sendable (String) -> Void = { step in steps.withLock { $0.append(step) } }
        let speculating5 = Gate()
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { plan, _ in
            Self.fakeResult(plan)
        }, speculate: { plan in
            record("speculate \(plan.choices[1].weightBits)")
            if plan == Self.plan(5) {
                speculating5.open()
                await untilCancelled()
            }
        }, idle: Engine.IdleWork(before: { record("before") }, after: { record("after") }), post: { _ in })
        await engine.prefetch([Self.plan(8), Self.plan(6)])
        guard await finishesInTime("the first prefetch", { await engine.settle() }) else { return }
        #expect(steps.withLock { $0 } == ["before", "speculate 8", "speculate 6", "after"])
        steps.withLock { $0 = [] }
        await engine.prefetch([Self.plan(5), Self.plan(7)])
        guard await finishesInTime("the prefetch of plan 5 to start", { await speculating5.wait() }) else { return }
        await engine.submit(Self.plan(2), generation: 1)
        guard await finishesInTime("the submitted evaluation", { await engine.settle() }) else { return }
        #expect(steps.withLock { $0 } == ["before", "speculate 5"])
    }

    @Test("a submit of the plan a prefetch is evaluating adopts it: not cancelled, answered from it, the prefetch stops there")
    func adoptsInFlightPrefetch() async throws {
        let log = EventLog(), calls = Calls()
        let speculated = Calls()
        let sawCancel = Mutex(false), cached = Mutex<Set<Plan>>([])
        let afterRan = Mutex(false)
        // Per prefetched plan: opened when its speculation starts, what lets it finish (a gate ignores
        // cancellation, so a cancelled speculation still runs on and can see it), and opened when
        // it has returned.
        let (speculating4, speculating3, release4, release3) = (Gate(), Gate(), Gate(), Gate())
        let speculating = [Self.plan(4): speculating4, Self.plan(3): speculating3]
        let release = [Self.plan(4): release4, Self.plan(3): release3]
        let speculated3 = Gate()
        let engine = Engine(clock: ManualClock(), debounce: .milliseconds(20), evaluate: { plan, _ in
            calls.append(plan)
            return Self.fakeResult(plan)
        }, speculate: { plan in
            speculated.append(plan)
            speculating[plan]?.open()
            await release[plan]?.wait()
            if Task.isCancelled { sawCancel.withLock { $0 = true } }
            cached.withLock { _ = $0.insert(plan) }
            if plan == Self.plan(3) { speculated3.open() }
        }, idle: Engine.IdleWork(after: { afterRan.withLock { $0 = true } }),
        isCached: { plan in cached.withLock { $0.contains(plan) } }, post: log.append)
        await engine.prefetch([Self.plan(4), Self.plan(6)])
        guard await finishesInTime("the prefetch of plan 4 to start", { await speculating4.wait() }) else { return }
        await engine.submit(Self.plan(4), generation: 1)  // the plan in flight
        release4.open()
        // The clock never advances: had the submit waited for its debounce, this would time out.
        guard await finishesInTime("the adopted plan's answer", { await engine.settle() }) else { return }
        #expect(!sawCancel.withLock { $0 })
        #expect(speculated.all == [Self.plan(4)])  // stopped after the adopted plan
        #expect(!afterRan.withLock { $0 })
        #expect(calls.all == [Self.plan(4)])
        #expect(log.all.last == .finished(generation: 1, Self.fakeResult(Self.plan(4))))

        // A submit of another plan cancels the prefetch as before.
        await engine.prefetch([Self.plan(3)])
        guard await finishesInTime("the prefetch of plan 3 to start", { await speculating3.wait() }) else { return }
        await engine.submit(Self.plan(2), generation: 2)
        release3.open()
        // Not `settle`: plan 2 is not cached, so its evaluation waits for a debounce that never ends.
        guard await finishesInTime("the prefetch of plan 3 to return", { await speculated3.wait() }) else { return }
        #expect(sawCancel.withLock { $0 })
    }

    @Test("a plan the evaluator already holds is answered without the debounce")
    func cachedSkipsDebounce() async throws {
        let clock = ManualClock()
        let log = EventLog()
        let engine = Engine(clock: clock, debounce: .milliseconds(20), evaluate: { plan, _ in
            Self.fakeResult(plan)
        }, isCached: { plan in plan == Self.plan(4) }, post: log.append)
        await engine.submit(Self.plan(4), generation: 1)
        // The clock never advanced: had the submit waited for its debounce, this would time out.
        guard await finishesInTime("the cached plan's answer", { await engine.settle() }) else { return }
        #expect(log.all == [.started(generation: 1), .finished(generation: 1, Self.fakeResult(Self.plan(4)))])
        await engine.submit(Self.plan(3), generation: 2)
        #expect(await clock.waitForSleepers(1))  // not cached: waits for the debounce
        #expect(log.all.count == 2)
        clock.advance(by: .milliseconds(20))
        guard await finishesInTime("the debounced evaluation", { await engine.settle() }) else { return }
        #expect(log.all.last == .finished(generation: 2, Self.fakeResult(Self.plan(3))))
    }

    @Test("a stale generation (older than the latest submitted) is dropped: it neither runs nor stops the latest")
    func staleGenerationDropped() async {
        let log = EventLog(), calls = Calls()
        let entered = Gate(), resume = Gate()
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { plan, _ in
            calls.append(plan)
            entered.open()
            await resume.wait()
            try Task.checkCancellation()
            return Self.fakeResult(plan)
        }, post: log.append)
        await engine.submit(Self.plan(4), generation: 5)
        guard await finishesInTime("the evaluation to start", { await entered.wait() }) else { return }
        await engine.submit(Self.plan(8), generation: 4)  // reached the engine late
        await engine.submit(Self.plan(8), generation: 5)  // a repeat of the live generation
        resume.open()
        guard await finishesInTime("the evaluation to finish", { await engine.settle() }) else { return }
        #expect(calls.all == [Self.plan(4)])
        #expect(log.all == [.started(generation: 5), .finished(generation: 5, Self.fakeResult(Self.plan(4)))])
    }

    @Test("an evaluation error is published as one failed event")
    func failure() async {
        let log = EventLog()
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { _, _ in
            throw QScopeError(file: "m.onnx", "broken")
        }, post: log.append)
        await engine.submit(Self.plan(4), generation: 7)
        guard await finishesInTime("the failing evaluation", { await engine.settle() }) else { return }
        #expect(log.all == [.started(generation: 7), .failed(generation: 7, message: "m.onnx: broken")])
    }
}
