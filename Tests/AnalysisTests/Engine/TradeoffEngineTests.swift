import Executor
import Foundation
import Synchronization
import Testing
import Analysis

/// The worker behind `a` and the Trade-off pane: latest wins per lane, superseded and cancelled
/// requests publish nothing, and on a sample model the workbench's allocation is `search --method
/// hawq`'s plan for the same traces. Slow jobs are held at `Gate`s or suspended until cancelled, and
/// every wait on them is bounded (`finishesInTime`), so a regression fails instead of hanging.
@Suite("trade-off engine")
struct TradeoffEngineTests {
    final class EventLog: Sendable {
        private let events = Mutex<[TradeoffEvent]>([])
        func append(_ event: TradeoffEvent) { events.withLock { $0.append(event) } }
        var all: [TradeoffEvent] { events.withLock { $0 } }
    }

    static let names = ["a", "b"]

    static func plan(_ bits: Int) -> Plan {
        Plan(layerNames: names, choices: names.map { _ in LayerChoice(weights: .int(bits)) })
    }

    static func result(_ bits: Int) -> HAWQAllocation.Result {
        HAWQAllocation.Result(plan: plan(bits), choices: [0, 0], totalBits: 10 * bits, parameters: 10, budgetBits: 10 * bits,
                              omega: 1, resolutionBits: 8)
    }

    static func evaluation(_ plan: Plan) -> PlanEvaluation {
        let layers = plan.choices.map { _ in LayerQuantization.float(parameters: 5) }
        return PlanEvaluation(plan: plan, samples: 10,
                              metrics: FidelityMetrics(accuracy: 0.9, agreement: 1, cosineMean: 1, cosineMin: 1, sqnrDB: 40, kl: 0),
                              referenceMetrics: FidelityMetrics(accuracy: 0.9, agreement: 1, cosineMean: 1, cosineMin: 1,
                                                                sqnrDB: .infinity, kl: 0),
                              headline: .accuracy, correct: 9, agreement: 10, positions: 10, referenceCorrect: 9, layers: layers,
                              size: PlanSize(layers), referenceSize: PlanSize(layers), seconds: 0, resumedAtLayer: 0)
    }

    @Test("a superseded allocation publishes nothing, even when its computation returns a plan")
    func supersededAllocation() async {
        let log = EventLog()
        let entered = Gate()
        let engine = TradeoffEngine(allocate: { budget, _ in
            if budget == .averageBits(3) {
                entered.open()
                await untilCancelled()
                return Self.result(3)
            }
            return Self.result(4)
        }, schedule: { _ in TradeoffEngine.SweepSchedule(plans: [], hawq: 0, distinct: 0) },
           evaluate: { Self.evaluation($0) }, post: log.append)
        await engine.allocate(budget: .averageBits(3), tracesPerParameter: [1, 1], generation: 1)
        guard await finishesInTime("the first allocation to start", { await entered.wait() }) else { return }
        await engine.allocate(budget: .averageBits(4), tracesPerParameter: [1, 1], generation: 2)
        guard await finishesInTime("the second allocation", { await engine.settle() }) else { return }
        #expect(log.all == [.allocated(generation: 2, Self.result(4))])
    }

    @Test("allocation errors come back as one line for their request")
    func allocationFailure() async {
        let log = EventLog()
        let engine = TradeoffEngine(allocate: { _, _ in throw QScopeError("--avg-bits 1.0 is below the smallest plan") },
                                    schedule: { _ in TradeoffEngine.SweepSchedule(plans: [], hawq: 0, distinct: 0) },
                                    evaluate: { Self.evaluation($0) }, post: log.append)
        await engine.allocate(budget: .averageBits(1), tracesPerParameter: [1, 1], generation: 5)
        guard await finishesInTime("the failing allocation", { await engine.settle() }) else { return }
        #expect(log.all == [.allocationFailed(generation: 5, message: "--avg-bits 1.0 is below the smallest plan")])
    }

    @Test("a superseded sweep publishes no more points; the new one publishes all of its own")
    func supersededSweep() async throws {
        let log = EventLog()
        let entered = Gate()
        let firstOfPlan4 = Mutex(true)
        let plans = [8, 4, 2].map { (source: TradeoffPoint.Source.uniform, plan: Self.plan($0)) }
        let engine = TradeoffEngine(allocate: { _, _ in Self.result(4) }, schedule: { traces in
            TradeoffEngine.SweepSchedule(plans: traces == nil ? plans : Array(plans.prefix(2)), hawq: 0, distinct: 0)
        }, evaluate: { plan in
            // The first sweep's second plan works until superseded, then returns anyway.
            if plan == Self.plan(4), firstOfPlan4.withLock({ first in defer { first = false }; return first }) {
                entered.open()
                await untilCancelled()
            }
            return Self.evaluation(plan)
        }, post: log.append)
        await engine.sweep(tracesPerParameter: nil, generation: 1)
        guard await finishesInTime("the first sweep's second plan", { await entered.wait() }) else { return }
        await engine.sweep(tracesPerParameter: [1, 1], generation: 2)
        guard await finishesInTime("the second sweep", { await engine.settle() }) else { return }
        let point8 = TradeoffPoint(source: .uniform, evaluation: Self.evaluation(Self.plan(8)))
        let point4 = TradeoffPoint(source: .uniform, evaluation: Self.evaluation(Self.plan(4)))
        let events = log.all
        // Generation 1: planned and its first point, both before it was superseded; nothing after.
        #expect(Array(events.prefix(2)) == [.sweepPlanned(generation: 1, hawq: 0, distinct: 0, total: 3),
                                            .sweepPoint(generation: 1, point8, done: 1)])
        #expect(Array(events.dropFirst(2).prefix(3)) == [.sweepPlanned(generation: 2, hawq: 0, distinct: 0, total: 2),
                                                         .sweepPoint(generation: 2, point8, done: 1),
                                                         .sweepPoint(generation: 2, point4, done: 2)])
        #expect(events.count == 6)
        let finished = try #require(events.last.flatMap { event -> UInt64? in
            if case .sweepFinished(let generation, _) = event { return generation } else { return nil }
        }, "no finish")
        #expect(finished == 2)
    }

    @Test("a stale generation (older than its lane's latest) is dropped: it neither runs nor stops the latest")
    func staleGenerationDropped() async {
        let log = EventLog()
        let allocating = Gate(), sweeping = Gate(), resume = Gate()
        let budgets = Mutex<[SizeBudget]>([]), sweeps = Mutex<[[Double]?]>([])
        let engine = TradeoffEngine(allocate: { budget, _ in
            budgets.withLock { $0.append(budget) }
            allocating.open()
            await resume.wait()
            try Task.checkCancellation()
            return Self.result(4)
        }, schedule: { traces in
            sweeps.withLock { $0.append(traces) }
            sweeping.open()
            await resume.wait()
            try Task.checkCancellation()
            return TradeoffEngine.SweepSchedule(plans: [], hawq: 0, distinct: 0)
        }, evaluate: { Self.evaluation($0) }, post: log.append)
        await engine.allocate(budget: .averageBits(4), tracesPerParameter: [1, 1], generation: 3)
        await engine.sweep(tracesPerParameter: nil, generation: 7)
        guard await finishesInTime("the allocation to start", { await allocating.wait() }) else { return }
        guard await finishesInTime("the sweep to start", { await sweeping.wait() }) else { return }
        // Reached the engine late; the other lane's generations do not count.
        await engine.allocate(budget: .averageBits(2), tracesPerParameter: [1, 1], generation: 2)
        await engine.sweep(tracesPerParameter: [1, 1], generation: 6)
        resume.open()
        guard await finishesInTime("both lanes to finish", { await engine.settle() }) else { return }
        #expect(budgets.withLock { $0 } == [.averageBits(4)])
        #expect(sweeps.withLock { $0 } == [nil])
        let events = log.all
        #expect(events.filter { $0.generation != 3 && $0.generation != 7 }.isEmpty)
        #expect(events.contains(.allocated(generation: 3, Self.result(4))))
        #expect(events.contains(.sweepPlanned(generation: 7, hawq: 0, distinct: 0, total: 0)))
    }

    @Test("the sweep's time is read on the injected clock")
    func sweepTimeOnInjectedClock() async throws {
        let clock = ManualClock()
        let log = EventLog()
        let plans = [8, 4].map { (source: TradeoffPoint.Source.uniform, plan: Self.plan($0)) }
        let engine = TradeoffEngine(clock: clock, allocate: { _, _ in Self.result(4) }, schedule: { _ in
            TradeoffEngine.SweepSchedule(plans: plans, hawq: 0, distinct: 0)
        }, evaluate: { plan in
            clock.advance(by: .milliseconds(750))  // each evaluation "takes" 0.75 s
            return Self.evaluation(plan)
        }, post: log.append)
        await engine.sweep(tracesPerParameter: nil, generation: 1)
        guard await finishesInTime("the sweep", { await engine.settle() }) else { return }
        let seconds = try #require(log.all.last.flatMap { event -> Double? in
            if case .sweepFinished(1, let seconds) = event { return seconds } else { return nil }
        }, "the sweep did not finish: \(log.all)")
        #expect(seconds == 1.5)
    }

    @Test("cancel stops both lanes: nothing more is published")
    func cancelled() async {
        let log = EventLog()
        let allocating = Gate(), evaluating = Gate()
        let engine = TradeoffEngine(allocate: { _, _ in
            allocating.open()
            await untilCancelled()
            return Self.result(4)
        }, schedule: { _ in TradeoffEngine.SweepSchedule(plans: [(.uniform, Self.plan(8))], hawq: 0, distinct: 0) },
           evaluate: { plan in
            evaluating.open()
            await untilCancelled()
            return Self.evaluation(plan)
        }, post: log.append)
        await engine.allocate(budget: .averageBits(4), tracesPerParameter: [1, 1], generation: 1)
        await engine.sweep(tracesPerParameter: nil, generation: 1)
        guard await finishesInTime("the allocation to start", { await allocating.wait() }) else { return }
        guard await finishesInTime("the sweep's evaluation to start", { await evaluating.wait() }) else { return }
        await engine.cancel()
        guard await finishesInTime("both lanes to stop", { await engine.settle() }) else { return }
        #expect(log.all == [.sweepPlanned(generation: 1, hawq: 0, distinct: 0, total: 1)])
    }

    /// What `qscope search --method hawq` computes for `budget` (SearchCommand.run, step by step):
    /// its default `--bits` and `--family` parsed as the command parses them, candidates, then
    /// `HAWQAllocation.allocate` with the report's traces.
    static func searchCommandPlan(model: Model, traces: [Double], budget: SizeBudget) throws -> HAWQAllocation.Result {
        let widths = try BitWidthList.parse("2,3,4,6,8")
        let family = try QuantizerFamilyTemplate("intB", bitWidths: widths)
        let layers = try CandidateBuilder.build(model: model, bitWidths: widths, family: family)
        return try HAWQAllocation.allocate(candidates: layers, tracesPerParameter: traces, budget: budget)
    }

    @Test("the workbench's allocation (engine on the CNN) equals search --method hawq's for the same traces and budget")
    func workbenchEqualsSearch() async throws {
        let (model, data) = try SearchOnSampleModelsTests.load("cnn", samples: 32)
        var options = HessianOptions()
        options.samples = 32
        options.maxProbes = 4
        options.minProbes = 4
        options.tolerance = 0
        let traces = try HessianTraceEstimator.run(model: model, data: data, options: options).layers.map(\.tracePerParameter)
        let evaluator = try PlanEvaluator(model: model, dataset: data, batchSize: 32)
        let log = EventLog()
        let engine = TradeoffEngine(evaluator: evaluator, post: log.append)
        let budgets: [SizeBudget] = [.averageBits(2.5), .averageBits(3.5), .averageBits(4.5), .megabytes(0.05)]
        for (i, budget) in budgets.enumerated() {
            await engine.allocate(budget: budget, tracesPerParameter: traces, generation: UInt64(i + 1))
            await engine.settle()
        }
        let answers = log.all
        #expect(answers.count == budgets.count)
        // Independent of HAWQAllocation: the dynamic program on candidates carrying the traces.
        let layers = try CandidateBuilder.build(model: model, bitWidths: [2, 3, 4, 6, 8], family: .integer, tracesPerParameter: traces)
        let problem = AllocationProblem(layers: layers)
        let parameters = layers.reduce(0) { $0 + $1.parameters }
        for (i, budget) in budgets.enumerated() {
            let workbench = try #require(answers.lazy.compactMap { event -> HAWQAllocation.Result? in
                if case .allocated(let g, let result) = event, g == UInt64(i + 1) { return result } else { return nil }
            }.first, "no allocation for \(budget)")
            let search = try Self.searchCommandPlan(model: model, traces: traces, budget: budget)
            #expect(workbench == search, "\(budget)")
            let budgetBits = budget.bits(parameters: parameters)
            let choice = try #require(problem.allocate(budgetBits: budgetBits))
            #expect(workbench.plan == CandidateBuilder.plan(layers, choices: choice), "\(budget)")
            #expect(workbench.totalBits <= budgetBits && workbench.totalBits == CandidateBuilder.totalBits(layers, choices: choice))
        }
        // A budget below the smallest plan is one line, as in the command.
        await engine.allocate(budget: .averageBits(1), tracesPerParameter: traces, generation: 99)
        await engine.settle()
        let message = try #require(log.all.last.flatMap { event -> String? in
            if case .allocationFailed(99, let message) = event { return message } else { return nil }
        }, "no failure")
        #expect(message.contains("below the smallest plan") && !message.contains("\n"))
    }

    @Test("the real sweep on the CNN: uniform plans first, HAWQ plans capped at 40 of all distinct ones, every point evaluated")
    func cappedSweep() async throws {
        let (model, data) = try SearchOnSampleModelsTests.load("cnn", samples: 32)
        let layers = try SearchOnSampleModelsTests.candidates(model, data)
        let traces = layers.map { $0.tracePerParameter! }
        let evaluator = try PlanEvaluator(model: model, dataset: data, batchSize: 32)
        let log = EventLog()
        let engine = TradeoffEngine(evaluator: evaluator, post: log.append)
        await engine.sweep(tracesPerParameter: traces, generation: 1)
        await engine.settle()
        let events = log.all
        let full = ParetoSweep.schedule(problem: AllocationProblem(layers: layers))
        let distinct = full.distinctPlans
        #expect(distinct > TradeoffEngine.defaultMaxHAWQPlans)
        let points = events.compactMap { event -> TradeoffPoint? in
            if case .sweepPoint(_, let point, _) = event { return point } else { return nil }
        }
        // At most 40 HAWQ plans (one fewer when the largest is uniform int8, which is evaluated once).
        let hawqCount = points.filter { $0.source == .hawq }.count
        #expect((TradeoffEngine.defaultMaxHAWQPlans - 1...TradeoffEngine.defaultMaxHAWQPlans).contains(hawqCount))
        #expect(events.first == .sweepPlanned(generation: 1, hawq: hawqCount, distinct: distinct, total: hawqCount + 5))
        #expect(points.count == hawqCount + 5)
        #expect(points.prefix(5).map(\.source) == Array(repeating: .uniform, count: 5))
        #expect(points.prefix(5).map { $0.plan.choices[0].weights } == [.int(8), .int(6), .int(4), .int(3), .int(2)])
        #expect(Set(points.map(\.plan)).count == points.count)
        // The smallest and the largest plans of the full sweep are among the points.
        let hawq = points.map(\.totalBits)
        let all = full.plans.map { CandidateBuilder.totalBits(layers, choices: $0.choices) }
        #expect(hawq.min() == all.min() && hawq.max() == all.max())
        // Each point is what a fresh evaluation of its plan measures.
        let check = try PlanEvaluator(model: model, dataset: data, batchSize: 32)
        for point in points.prefix(3) + points.suffix(2) {
            let fresh = try await check.evaluate(point.plan)
            #expect(fresh.accuracy == point.accuracy && fresh.size.totalBits == point.totalBits)
        }
        let finished = try #require(events.last.flatMap { event -> UInt64? in
            if case .sweepFinished(let generation, _) = event { return generation } else { return nil }
        }, "the sweep did not finish")
        #expect(finished == 1)
    }
}
