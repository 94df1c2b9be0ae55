import Executor
import Synchronization

/// The background worker the workbench talks to: evaluates the latest plan, and only that.
///
/// - Latest wins: `submit` cancels whatever evaluation is pending or running, then starts one for
///   the new plan. At most one evaluation is alive at a time (the previous one has returned before
///   the next one touches the evaluator). The requests run on a `LatestWinsJob`.
/// - Debounce: each evaluation first sleeps `debounce` on the injected clock, so a burst of edits
///   (key repeat) costs one evaluation; cancelling during the sleep is free. A plan whose result
///   the evaluator already holds (`isCached`: undo, redo, a prefetched edit) skips the wait.
/// - A cancelled or superseded evaluation publishes nothing after its cancellation: no
///   `.progress`, `.finished` or `.failed` (every event goes through the job's generation gate).
/// - Prefetch: while idle, likely next plans can be evaluated ahead (`prefetch`), silently, between
///   the evaluator's own idle work (`IdleWork`: for `PlanEvaluator`, saving boundaries of the
///   current plan and reserving boundary memory after them). A submit of the plan a prefetch is
///   evaluating at that moment adopts it: the prefetch finishes that plan (and stops there) instead
///   of being cancelled, and the request is answered from its result.
/// - Heavy work runs in `PlanEvaluator` (its own actor), never on this actor, so `submit` always
///   answers at once.
public actor Engine {
    /// What evaluates a plan: the real `PlanEvaluator`, or a stand-in in tests.
    public typealias Evaluate = @Sendable (Plan, @escaping @Sendable (Int, Int) -> Void) async throws -> PlanEvaluation
    /// Evaluates a plan ahead of need, keeping the result for a later `Evaluate` of the same plan.
    public typealias Speculate = @Sendable (Plan) async throws -> Void

    private let evaluate: Evaluate
    private let speculate: Speculate
    private let idle: IdleWork
    private let isCached: @Sendable (Plan) async -> Bool

    /// Work that makes later evaluations cheaper, run in the prefetch task (and cancelled with it):
    /// `before` its plans and `after` them.
    public struct IdleWork: Sendable {
        public var before: @Sendable () async -> Void
        public var after: @Sendable () async -> Void

        public init(before: @escaping @Sendable () async -> Void = {}, after: @escaping @Sendable () async -> Void = {}) {
            self.before = before
            self.after = after
        }
    }
    /// The requested evaluations: latest wins, debounced, gated by generation.
    private let requests: LatestWinsJob<EngineEvent>
    /// Speculative evaluations started by `prefetch`; a `submit` cancels them, unless it adopts the
    /// plan in flight.
    private var speculation: (task: Task<Void, Never>, control: SpeculationControl)?

    /// - Parameters:
    ///   - speculate: how a prefetch evaluates; nil: `evaluate` with its result dropped.
    ///   - idle: work run around each prefetch's plans.
    ///   - isCached: whether evaluating a plan costs nothing (then no debounce).
    ///   - post: called from the engine's tasks (any thread) with each event.
    public init(clock: any Clock<Duration> = ContinuousClock(), debounce: Duration = .milliseconds(15),
                evaluate: @escaping Evaluate, speculate: Speculate? = nil,
                idle: IdleWork = IdleWork(), isCached: @escaping @Sendable (Plan) async -> Bool = { _ in false },
                post: @escaping @Sendable (EngineEvent) -> Void) {
        self.requests = LatestWinsJob(clock: clock, debounce: debounce, failure: { generation, message in
            .failed(generation: generation, message: message)
        }, post: post)
        self.evaluate = evaluate
        self.speculate = speculate ?? { plan in _ = try await evaluate(plan) { _, _ in } }
        self.idle = idle
        self.isCached = isCached
    }

    /// An engine backed by a `PlanEvaluator`.
    public init(evaluator: PlanEvaluator, clock: any Clock<Duration> = ContinuousClock(),
                debounce: Duration = .milliseconds(15), post: @escaping @Sendable (EngineEvent) -> Void) {
        self.init(clock: clock, debounce: debounce, evaluate: { plan, progress in
            try await evaluator.evaluate(plan, progress: progress)
        }, speculate: { plan in
            try await evaluator.prefetch(plan)
        }, idle: IdleWork(before: {
            // Not `reserveBoundaryMemory`: touching up to its budget (a second or more of page
            // faults right after the open) would hold up the prefetches, which the next key needs
            // sooner; their cuts go into what earlier idle work reserved, the rest comes after.
            await evaluator.acceptIdleWorker()
        }, after: {
            try? await evaluator.extendBoundaries()
            await evaluator.reserveBoundaryMemory()
        }), isCached: { plan in
            await evaluator.isCached(plan)
        }, post: post)
    }

    /// Starts evaluating `plan` as request `generation`, cancelling the previous request. A request
    /// older than one already submitted is ignored (callers may reach the actor out of order).
    public func submit(_ plan: Plan, generation: UInt64) {
        guard requests.accepts(generation) else { return }
        let speculative = speculation?.task
        if let speculation, !speculation.control.adopt(plan) {
            speculation.task.cancel()
            self.speculation = nil
        }
        let (evaluate, isCached) = (self.evaluate, self.isCached)
        // Waits for the speculative work too: it must have stopped touching the evaluator (an
        // adopted prefetch has then cached the plan, so the debounce is skipped).
        requests.submit(generation: generation, waitingFor: speculative.map { [$0] } ?? [],
                        skipDebounce: { await isCached(plan) }) { job in
            job.post(.started(generation: generation))
            let result = try await evaluate(plan) { done, total in
                job.post(.progress(generation: generation, done: done, total: total))
            }
            job.post(.finished(generation: generation, result))
        }
    }

    /// Evaluates `plans` in order once the current request is done, publishing nothing: for an
    /// evaluator that caches results (`PlanEvaluator`), the edits the user is likely to make next then
    /// come back at once. Replaces earlier prefetches; any `submit` cancels it between batches.
    public func prefetch(_ plans: [Plan]) {
        let previous = speculation
        // An adopted prefetch is finishing a requested plan and stops after it: let it.
        if let previous, !previous.control.isAdopted { previous.task.cancel() }
        let running = requests.newestTask
        let (speculate, idle) = (self.speculate, self.idle)
        let control = SpeculationControl()
        let task = Task {
            await previous?.task.value
            await running?.value
            await idle.before()
            for plan in plans {
                if Task.isCancelled || !control.begin(plan) { return }
                try? await speculate(plan)
                control.end()
            }
            if !Task.isCancelled && !control.isAdopted { await idle.after() }
        }
        speculation = (task, control)
    }

    /// Cancels the pending or running evaluation (it publishes nothing more) and any prefetch.
    public func cancel() {
        requests.cancel()
        speculation?.task.cancel()
    }

    /// Waits until the current evaluation and any prefetch have finished or stopped; for tests.
    public func settle() async {
        await requests.settle()
        await speculation?.task.value
    }
}

/// What a prefetch is evaluating, shared between its task and `Engine.submit` (which may adopt it).
final class SpeculationControl: Sendable {
    private struct State {
        var inFlight: Plan?
        var adopted = false
    }

    private let state = Mutex(State())

    /// Adopts the prefetch when it is evaluating `plan` right now: it will finish that plan and
    /// stop. Returns whether it did.
    func adopt(_ plan: Plan) -> Bool {
        state.withLock { state in
            guard state.inFlight == plan else { return false }
            state.adopted = true
            return true
        }
    }

    var isAdopted: Bool { state.withLock { $0.adopted } }

    /// Called by the prefetch before evaluating `plan`; false when it was adopted and must stop.
    func begin(_ plan: Plan) -> Bool {
        state.withLock { state in
            guard !state.adopted else { return false }
            state.inFlight = plan
            return true
        }
    }

    func end() {
        state.withLock { $0.inFlight = nil }
    }
}
