import Executor
import Foundation

/// The workbench's worker for the HAWQ allocation (`a`) and the Trade-off pane's sweep, off the UI
/// thread.
///
/// - Two independent lanes (each a `LatestWinsJob`), each latest wins: `allocate` cancels the
///   allocation before it, `sweep` the sweep before it. A request whose generation is not newer
///   than its lane's latest is ignored. A cancelled request publishes nothing after its
///   cancellation (every event goes through the lane's generation gate), and the next request of a
///   lane starts only after the old one stopped.
/// - The allocation is `HAWQAllocation.allocate`, the function `qscope search --method hawq` runs,
///   on the candidates of `search`'s defaults (`BitWidthList.defaultWidths`, `intB`), so the
///   workbench's plan for a budget equals the command's for the same traces.
/// - A sweep evaluates the uniform plans first (they need no traces), then, given traces, the
///   HAWQ-optimal plans of every budget thinned to `maxHAWQPlans` (`ParetoSweep.schedule`); each
///   point is published as soon as it is evaluated. Cancellation takes effect between evaluations.
///   The sweep's time (`sweepFinished`) is read on the injected clock.
public actor TradeoffEngine {
    public typealias Allocate = @Sendable (SizeBudget, [Double]) async throws -> HAWQAllocation.Result
    /// The plans of a sweep for these traces (nil: uniform plans only), in evaluation order.
    public typealias Schedule = @Sendable ([Double]?) async throws -> SweepSchedule
    public typealias Evaluate = @Sendable (Plan) async throws -> PlanEvaluation

    public struct SweepSchedule: Sendable {
        public var plans: [(source: TradeoffPoint.Source, plan: Plan)]
        /// HAWQ plans kept, and distinct HAWQ plans over all budgets.
        public var hawq: Int
        public var distinct: Int

        public init(plans: [(source: TradeoffPoint.Source, plan: Plan)], hawq: Int, distinct: Int) {
            self.plans = plans
            self.hawq = hawq
            self.distinct = distinct
        }
    }

    /// The workbench's cap on HAWQ plans per sweep: the CNN has 343 distinct ones; 40 evaluations
    /// (a few seconds there) draw the front's shape.
    public static let defaultMaxHAWQPlans = 40

    private let allocateFunction: Allocate
    private let schedule: Schedule
    private let evaluate: Evaluate
    private let allocations: LatestWinsJob<TradeoffEvent>
    private let sweeps: LatestWinsJob<TradeoffEvent>

    /// - Parameters:
    ///   - clock: what the sweep's time is read on.
    ///   - post: called from the engine's tasks (any thread) with each event.
    public init(clock: any Clock<Duration> = ContinuousClock(), allocate: @escaping Allocate, schedule: @escaping Schedule,
                evaluate: @escaping Evaluate, post: @escaping @Sendable (TradeoffEvent) -> Void) {
        self.allocateFunction = allocate
        self.schedule = schedule
        self.evaluate = evaluate
        self.allocations = LatestWinsJob(clock: clock, failure: { generation, message in
            .allocationFailed(generation: generation, message: message)
        }, post: post)
        self.sweeps = LatestWinsJob(clock: clock, failure: { generation, message in
            .sweepFailed(generation: generation, message: message)
        }, post: post)
    }

    /// An engine on the evaluator's model: candidates of `bitWidths` × `family` (built once, on
    /// first use), plans evaluated by `evaluator` (the engine's, so its caches are shared).
    public init(evaluator: PlanEvaluator, bitWidths: [Int] = BitWidthList.defaultWidths,
                family: QuantizerFamilyTemplate = .integer, maxHAWQPlans: Int = TradeoffEngine.defaultMaxHAWQPlans,
                clock: any Clock<Duration> = ContinuousClock(), post: @escaping @Sendable (TradeoffEvent) -> Void) {
        let table = CandidateTable(model: evaluator.model, bitWidths: bitWidths, family: family)
        self.init(clock: clock, allocate: { budget, traces in
            try HAWQAllocation.allocate(candidates: try table.candidates(), tracesPerParameter: traces, budget: budget)
        }, schedule: { traces in
            try table.schedule(traces: traces, maxHAWQPlans: maxHAWQPlans)
        }, evaluate: { plan in
            try await evaluator.evaluate(plan)
        }, post: post)
    }

    /// Allocates for `budget` from these traces (one per layer) as request `generation`, cancelling
    /// the allocation before it.
    public func allocate(budget: SizeBudget, tracesPerParameter: [Double], generation: UInt64) {
        let allocate = allocateFunction
        allocations.submit(generation: generation) { job in
            let result = try await allocate(budget, tracesPerParameter)
            job.post(.allocated(generation: generation, result))
        }
    }

    /// Evaluates the sweep's plans for these traces (nil: the uniform plans only) as request
    /// `generation`, cancelling the sweep before it.
    public func sweep(tracesPerParameter: [Double]?, generation: UInt64) {
        let (schedule, evaluate) = (self.schedule, self.evaluate)
        sweeps.submit(generation: generation) { job in
            let planned = try await schedule(tracesPerParameter)
            job.post(.sweepPlanned(generation: generation, hawq: planned.hawq, distinct: planned.distinct, total: planned.plans.count))
            for (done, entry) in planned.plans.enumerated() {
                try job.checkCancellation()
                let evaluation = try await evaluate(entry.plan)
                job.post(.sweepPoint(generation: generation, TradeoffPoint(source: entry.source, evaluation: evaluation), done: done + 1))
            }
            job.post(.sweepFinished(generation: generation, seconds: job.elapsed.inSeconds))
        }
    }

    /// Stops both lanes (they publish nothing more).
    public func cancel() {
        allocations.cancel()
        sweeps.cancel()
    }

    /// Waits until both lanes have finished or stopped; for tests.
    public func settle() async {
        await allocations.settle()
        await sweeps.settle()
    }
}

/// The per-layer candidates of a model, built on first use and kept (quantizing every layer at every
/// width takes a moment; traces change, candidates do not).
final class CandidateTable: @unchecked Sendable {
    // @unchecked: `built` is guarded by `lock`; the rest is immutable.
    private let model: Model
    private let bitWidths: [Int]
    private let family: QuantizerFamilyTemplate
    private let lock = NSLock()
    private var built: [LayerCandidates]?

    init(model: Model, bitWidths: [Int], family: QuantizerFamilyTemplate) {
        self.model = model
        self.bitWidths = bitWidths
        self.family = family
    }

    func candidates() throws -> [LayerCandidates] {
        lock.lock()
        defer { lock.unlock() }
        if let built { return built }
        let layers = try CandidateBuilder.build(model: model, bitWidths: bitWidths, family: family)
        built = layers
        return layers
    }

    /// Uniform plans from the widest width down, then (with traces) the capped HAWQ sweep.
    func schedule(traces: [Double]?, maxHAWQPlans: Int) throws -> TradeoffEngine.SweepSchedule {
        let layers = try candidates()
        guard let traces else {
            let uniform = (0..<bitWidths.count).reversed().map {
                (source: TradeoffPoint.Source.uniform, plan: CandidateBuilder.plan(layers, choices: Array(repeating: $0, count: layers.count)))
            }
            return TradeoffEngine.SweepSchedule(plans: uniform, hawq: 0, distinct: 0)
        }
        let traced = try CandidateBuilder.withTraces(layers, traces, for: "the sweep")
        let sweep = ParetoSweep.schedule(problem: AllocationProblem(layers: traced), maxHAWQPlans: maxHAWQPlans)
        let plans = sweep.plans.map { entry in
            (source: entry.source == .uniform ? TradeoffPoint.Source.uniform : .hawq, plan: CandidateBuilder.plan(traced, choices: entry.choices))
        }
        // Uniform first: they are the landmarks the HAWQ points are read against. A HAWQ plan that
        // is a uniform one (all at the widest width, at the largest budget) is evaluated once.
        let uniform = plans.filter { $0.source == .uniform }
        let hawq = plans.filter { entry in entry.source == .hawq && !uniform.contains { $0.plan == entry.plan } }
        return TradeoffEngine.SweepSchedule(plans: uniform + hawq, hawq: hawq.count, distinct: sweep.distinctPlans)
    }
}
