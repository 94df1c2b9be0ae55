import Executor
import Foundation
import Synchronization
import Testing
import Analysis

/// The engine's scheduling (latest wins, debounce, cancellation) with a stand-in evaluator, and the
/// real `PlanEvaluator` (prefix cache, substitution) against plain full passes.
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
        return PlanEvaluation(plan: plan, samples: 10, correct: 9, agreement: 10, referenceCorrect: 9, layers: layers,
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
        await engine.settle()
        #expect(calls.all == [Self.plan(4)])
        #expect(log.all == [.started(generation: 3), .progress(generation: 3, done: 1, total: 1),
                            .finished(generation: 3, Self.fakeResult(Self.plan(4)))])
        // An older generation arriving late is ignored.
        await engine.submit(Self.plan(2), generation: 2)
        await engine.settle()
        #expect(calls.all.count == 1)
    }

    @Test("a cancelled evaluation publishes nothing after the cancellation, even if it returns a result")
    func cancelled() async throws {
        let log = EventLog()
        let entered = Mutex<Bool>(false)
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { plan, progress in
            progress(1, 3)
            entered.withLock { $0 = true }
            // Work until cancelled, then pretend to finish anyway.
            while !Task.isCancelled { await Task.yield() }
            progress(2, 3)
            return Self.fakeResult(plan)
        }, post: log.append)
        await engine.submit(Self.plan(4), generation: 1)
        for _ in 0..<1_000_000 where !entered.withLock({ $0 }) { await Task.yield() }
        #expect(entered.withLock { $0 })
        await engine.cancel()
        await engine.settle()
        #expect(log.all == [.started(generation: 1), .progress(generation: 1, done: 1, total: 3)])
    }

    @Test("a superseded running evaluation is cancelled and the next one runs after it stopped")
    func supersededWhileRunning() async throws {
        let log = EventLog(), calls = Calls()
        let running = Mutex<Int>(0), overlap = Mutex<Bool>(false)
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { plan, _ in
            let concurrent = running.withLock { $0 += 1; return $0 }
            if concurrent > 1 { overlap.withLock { $0 = true } }
            calls.append(plan)
            if plan == Self.plan(8) { while !Task.isCancelled { await Task.yield() } }
            running.withLock { $0 -= 1 }
            try Task.checkCancellation()
            return Self.fakeResult(plan)
        }, post: log.append)
        await engine.submit(Self.plan(8), generation: 1)
        for _ in 0..<1_000_000 where calls.all.isEmpty { await Task.yield() }
        await engine.submit(Self.plan(3), generation: 2)
        await engine.settle()
        #expect(!overlap.withLock { $0 })
        #expect(calls.all == [Self.plan(8), Self.plan(3)])
        let finished = log.all.filter { if case .finished = $0 { return true } else { return false } }
        #expect(finished == [.finished(generation: 2, Self.fakeResult(Self.plan(3)))])
    }

    @Test("prefetch evaluates silently after the current request; a submit cancels it")
    func prefetch() async throws {
        let log = EventLog(), calls = Calls()
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { plan, progress in
            calls.append(plan)
            progress(1, 1)
            if plan == Self.plan(5) { while !Task.isCancelled { await Task.yield() } }
            return Self.fakeResult(plan)
        }, post: log.append)
        await engine.prefetch([Self.plan(8), Self.plan(6)])
        await engine.settle()
        #expect(calls.all == [Self.plan(8), Self.plan(6)])
        #expect(log.all.isEmpty)
        await engine.prefetch([Self.plan(5), Self.plan(7)])
        for _ in 0..<1_000_000 where calls.all.count < 3 { await Task.yield() }
        await engine.submit(Self.plan(2), generation: 1)
        await engine.settle()
        #expect(calls.all == [Self.plan(8), Self.plan(6), Self.plan(5), Self.plan(2)])
        #expect(log.all.last == .finished(generation: 1, Self.fakeResult(Self.plan(2))))
    }

    @Test("idle work runs before and after a prefetch's plans, and not after a cancelled prefetch")
    func idleWorkOrder() async throws {
        let steps = Mutex<[String]>([])
        let record: @Sendable (String) -> Void = { step in steps.withLock { $0.append(step) } }
        let engine = Engine(clock: ManualClock(), debounce: .zero, evaluate: { plan, _ in
            Self.fakeResult(plan)
        }, speculate: { plan in
            record("speculate \(plan.choices[1].weightBits)")
            if plan == Self.plan(5) { while !Task.isCancelled { await Task.yield() } }
        }, idle: Engine.IdleWork(before: { record("before") }, after: { record("after") }), post: { _ in })
        await engine.prefetch([Self.plan(8), Self.plan(6)])
        await engine.settle()
        #expect(steps.withLock { $0 } == ["before", "speculate 8", "speculate 6", "after"])
        steps.withLock { $0 = [] }
        await engine.prefetch([Self.plan(5), Self.plan(7)])
        for _ in 0..<1_000_000 where steps.withLock({ $0.count }) < 2 { await Task.yield() }
        await engine.submit(Self.plan(2), generation: 1)
        await engine.settle()
        #expect(steps.withLock { $0 } == ["before", "speculate 5"])
    }

    @Test("a submit of the plan a prefetch is evaluating adopts it: not cancelled, answered from it, the prefetch stops there")
    func adoptsInFlightPrefetch() async throws {
        let log = EventLog(), calls = Calls()
        let speculated = Calls()
        let release = Mutex(false), sawCancel = Mutex(false), cached = Mutex<Set<Plan>>([])
        let afterRan = Mutex(false)
        let engine = Engine(clock: ManualClock(), debounce: .milliseconds(20), evaluate: { plan, _ in
            calls.append(plan)
            return Self.fakeResult(plan)
        }, speculate: { plan in
            speculated.append(plan)
            while !release.withLock({ $0 }) { await Task.yield() }
            if Task.isCancelled { sawCancel.withLock { $0 = true } }
            cached.withLock { _ = $0.insert(plan) }
        }, idle: Engine.IdleWork(after: { afterRan.withLock { $0 = true } }),
        isCached: { plan in cached.withLock { $0.contains(plan) } }, post: log.append)
        await engine.prefetch([Self.plan(4), Self.plan(6)])
        for _ in 0..<1_000_000 where speculated.all.isEmpty { await Task.yield() }
        await engine.submit(Self.plan(4), generation: 1)  // the plan in flight
        release.withLock { $0 = true }
        await engine.settle()  // the clock never advances: a debounce would hang here
        #expect(!sawCancel.withLock { $0 })
        #expect(speculated.all == [Self.plan(4)])  // stopped after the adopted plan
        #expect(!afterRan.withLock { $0 })
        #expect(calls.all == [Self.plan(4)])
        #expect(log.all.last == .finished(generation: 1, Self.fakeResult(Self.plan(4))))

        // A submit of another plan cancels the prefetch as before.
        release.withLock { $0 = false }
        await engine.prefetch([Self.plan(3)])
        for _ in 0..<1_000_000 where speculated.all.count < 2 { await Task.yield() }
        await engine.submit(Self.plan(2), generation: 2)
        release.withLock { $0 = true }
        for _ in 0..<1_000_000 where calls.all.count < 2 { await Task.yield() }
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
        await engine.settle()  // the clock never advanced
        #expect(log.all == [.started(generation: 1), .finished(generation: 1, Self.fakeResult(Self.plan(4)))])
        await engine.submit(Self.plan(3), generation: 2)
        #expect(await clock.waitForSleepers(1))  // not cached: waits for the debounce
        #expect(log.all.count == 2)
        clock.advance(by: .milliseconds(20))
        await engine.settle()
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
        await entered.wait()
        await engine.submit(Self.plan(8), generation: 4)  // reached the engine late
        await engine.submit(Self.plan(8), generation: 5)  // a repeat of the live generation
        resume.open()
        await engine.settle()
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
        await engine.settle()
        #expect(log.all == [.started(generation: 7), .failed(generation: 7, message: "m.onnx: broken")])
    }
}
