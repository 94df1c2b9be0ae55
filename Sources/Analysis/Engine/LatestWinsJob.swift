import Executor
import Synchronization

/// One lane of background work in which the newest request wins: what `Engine`,
/// `LayerCompareEngine` and both lanes of `TradeoffEngine` run their jobs on.
///
/// - One job at a time: `submit` cancels the running job and any job still waiting to start, and
///   the new job begins only after its predecessor has returned (and after the extra tasks it is
///   told to wait for), so two jobs of a lane never touch shared state, such as an evaluator's
///   caches, at once. A job stops at its next cancellation check (`Context.checkCancellation`);
///   work between two checks is not interrupted.
/// - Generations: the caller numbers its requests in strictly increasing order. A submit whose
///   generation is not newer than the latest one submitted is ignored (callers may reach the lane
///   out of order, e.g. through separate tasks).
/// - Debounce: with `debounce > 0` a job first sleeps that long on the injected clock, so a burst of
///   requests (key repeat) costs one job: the earlier ones are cancelled in their sleep, which costs
///   nothing. A submit's `skipDebounce` starts its job at once when the work is known to be cheap.
/// - Events, progress included, go through `Context.post`. Each carries its job's generation and is
///   posted only while that generation is the live one: a superseded or cancelled job posts
///   nothing, even an event it was about to post when it was superseded. The check and the post
///   happen under one lock, so once `submit` or `cancel` has returned no event of the old job
///   follows.
/// - Errors: a job that throws anything but `CancellationError` posts one `failure` event (its
///   message one line, `QScopeError.message`); a cancelled job posts nothing.
/// - Threads: jobs run in unstructured tasks on the global executor, never on the caller's actor,
///   so `submit` returns at once. `post` is called from those tasks (any thread), under the lane's
///   lock: it must not call back into the lane.
package final class LatestWinsJob<Event: GenerationTagged>: Sendable {
    /// What a job gets: its generation, a gated `post`, cancellation and its running time.
    package struct Context: Sendable {
        /// The generation this job answers.
        package let generation: UInt64
        fileprivate let lane: LatestWinsJob
        fileprivate let stopwatch: Stopwatch

        /// Posts `event` (tagged with this job's generation) while this job is the live one;
        /// drops it once the job is superseded or cancelled.
        package func post(_ event: Event) {
            assert(event.generation == generation, "a job posts events of its own generation")
            lane.post(event)
        }

        /// Whether a newer submit or `cancel` has stopped this job (its events are dropped).
        package var isStopped: Bool { Task.isCancelled || !lane.isLive(generation) }

        /// Throws `CancellationError` once this job is stopped; call it between steps of the work.
        package func checkCancellation() throws {
            if isStopped { throw CancellationError() }
        }

        /// Time since the job began (after its debounce), on the lane's clock.
        package var elapsed: Duration { stopwatch.elapsed }
    }

    private struct State {
        /// The newest generation submitted; older or equal ones are ignored.
        var latest: UInt64?
        /// The generation allowed to post: the latest, or nil after `cancel`.
        var live: UInt64?
        /// The newest job's task; it finishes after every earlier job of the lane.
        var newest: Task<Void, Never>?
    }

    private let clock: any Clock<Duration>
    private let debounce: Duration
    private let deliver: @Sendable (Event) -> Void
    private let failure: @Sendable (UInt64, String) -> Event
    private let state = Mutex(State())

    /// - Parameters:
    ///   - clock: what the debounce sleeps on and `Context.elapsed` reads.
    ///   - debounce: how long a job waits before it starts (zero: no wait).
    ///   - failure: the event for a job that threw: its generation and a one-line message.
    ///   - post: called with each event of the live job, from the lane's tasks (any thread).
    package init(clock: any Clock<Duration> = ContinuousClock(), debounce: Duration = .zero,
                 failure: @escaping @Sendable (UInt64, String) -> Event, post: @escaping @Sendable (Event) -> Void) {
        self.clock = clock
        self.debounce = debounce
        self.failure = failure
        self.deliver = post
    }

    /// Whether `submit` would take `generation`: true when it is newer than every one submitted.
    package func accepts(_ generation: UInt64) -> Bool {
        state.withLock { state in state.latest.map { generation > $0 } ?? true }
    }

    /// Starts `work` as request `generation`, stopping the job before it. Returns false, and does
    /// nothing, when `generation` is not newer than the latest one submitted.
    ///
    /// - Parameters:
    ///   - waitingFor: tasks that must have returned before `work` begins (besides the previous job).
    ///   - skipDebounce: asked after those waits; true starts `work` without the debounce.
    @discardableResult
    package func submit(generation: UInt64, waitingFor: [Task<Void, Never>] = [],
                        skipDebounce: @escaping @Sendable () async -> Bool = { false },
                        _ work: @escaping @Sendable (Context) async throws -> Void) -> Bool {
        state.withLock { state in
            if let latest = state.latest, generation <= latest { return false }
            state.latest = generation
            state.live = generation
            let previous = state.newest
            previous?.cancel()
            state.newest = Task { [self] in
                await previous?.value
                for task in waitingFor { await task.value }
                await run(generation: generation, skipDebounce: skipDebounce, work)
            }
            return true
        }
    }

    /// Stops the running or waiting job; it posts nothing more. A later submit still needs a newer
    /// generation.
    package func cancel() {
        state.withLock { state in
            state.live = nil
            state.newest?.cancel()
        }
    }

    /// The newest job's task (it returns after every earlier job), for work that must wait until
    /// the lane is quiet; nil before the first submit.
    package var newestTask: Task<Void, Never>? { state.withLock { $0.newest } }

    /// Waits until every job submitted so far has finished or stopped; for tests.
    package func settle() async {
        await newestTask?.value
    }

    private func run(generation: UInt64, skipDebounce: @Sendable () async -> Bool,
                     _ work: @Sendable (Context) async throws -> Void) async {
        do {
            if debounce > .zero, await !skipDebounce() { try await clock.sleep(for: debounce) }
            let context = Context(generation: generation, lane: self, stopwatch: Stopwatch(clock))
            try context.checkCancellation()
            try await work(context)
        } catch is CancellationError {
            // Superseded or cancelled: publish nothing.
        } catch {
            post(failure(generation, QScopeError.message(for: error)))
        }
    }

    fileprivate func isLive(_ generation: UInt64) -> Bool {
        state.withLock { $0.live == generation }
    }

    /// Posts `event` when its generation is live, under the lock that `submit` and `cancel` take,
    /// so neither can interleave between the check and the post.
    fileprivate func post(_ event: Event) {
        state.withLock { state in
            guard state.live == event.generation else { return }
            deliver(event)
        }
    }
}

/// Time since a moment on a clock given as `any Clock<Duration>` (whose instants can only be
/// compared once the clock's concrete type is opened, which `start` does).
struct Stopwatch: Sendable {
    private let read: @Sendable () -> Duration

    init(_ clock: any Clock<Duration>) {
        read = Self.start(clock)
    }

    private static func start(_ clock: some Clock<Duration>) -> @Sendable () -> Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    /// Time since `init`.
    var elapsed: Duration { read() }
}

extension Duration {
    /// This duration in seconds, with the sub-second part as a fraction.
    var inSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
