import Executor
import Synchronization
import Testing
import Analysis

/// The lane every engine runs its jobs on: debounce on an injected clock, latest wins, at most one
/// job at a time, and no event of a cancelled or superseded job. Jobs are held with `Gate`s and the
/// debounce runs on a `ManualClock`, so nothing here depends on timing; every wait is bounded
/// (`finishesInTime`), so a regression fails these tests instead of hanging them.
@Suite("latest-wins job")
struct LatestWinsJobTests {
    enum JobEvent: GenerationTagged, Hashable {
        case progress(generation: UInt64, done: Int)
        case finished(generation: UInt64)
        case failed(generation: UInt64, message: String)

        var generation: UInt64 {
            switch self {
            case .progress(let g, _), .finished(let g), .failed(let g, _): return g
            }
        }
    }

    /// Collects posted events (from any thread).
    final class EventLog: Sendable {
        private let events = Mutex<[JobEvent]>([])
        func append(_ event: JobEvent) { events.withLock { $0.append(event) } }
        var all: [JobEvent] { events.withLock { $0 } }
    }

    /// Records what the jobs did, in order (from any thread).
    final class Steps: Sendable {
        private let steps = Mutex<[String]>([])
        func append(_ step: String) { steps.withLock { $0.append(step) } }
        var all: [String] { steps.withLock { $0 } }
    }

    static func lane(clock: ManualClock = ManualClock(), debounce: Duration = .zero, log: EventLog) -> LatestWinsJob<JobEvent> {
        LatestWinsJob(clock: clock, debounce: debounce, failure: { .failed(generation: $0, message: $1) }, post: log.append)
    }

    @Test("three submits within the debounce window run one job: exactly one finished event, of the last generation")
    func burst() async {
        let clock = ManualClock()
        let log = EventLog(), steps = Steps()
        let lane = Self.lane(clock: clock, debounce: .milliseconds(20), log: log)
        for generation in UInt64(1)...3 {
            lane.submit(generation: generation) { job in
                steps.append("run \(job.generation)")
                job.post(.finished(generation: job.generation))
            }
        }
        #expect(await clock.waitForSleepers(1))
        #expect(steps.all.isEmpty)  // still in the debounce
        clock.advance(by: .milliseconds(20))
        guard await finishesInTime("the lane to settle", { await lane.settle() }) else { return }
        #expect(steps.all == ["run 3"])
        #expect(log.all == [.finished(generation: 3)])
        // A generation not newer than the latest is refused and runs nothing.
        #expect(!lane.accepts(3))
        #expect(!lane.submit(generation: 2) { job in steps.append("run \(job.generation)") })
        guard await finishesInTime("the lane to settle", { await lane.settle() }) else { return }
        #expect(steps.all == ["run 3"])
    }

    @Test("a job posting after cancel (its work ignores the cancellation) publishes nothing more")
    func cancelDuringSlowJob() async {
        let log = EventLog()
        let lane = Self.lane(log: log)
        let entered = Gate(), resume = Gate()
        let returned = Mutex(false)
        lane.submit(generation: 1) { job in
            job.post(.progress(generation: 1, done: 1))
            entered.open()
            await resume.wait()  // not cancellable: the job carries on after `cancel`
            job.post(.progress(generation: 1, done: 2))
            job.post(.finished(generation: 1))
            returned.withLock { $0 = true }
        }
        guard await finishesInTime("the job to start", { await entered.wait() }) else { return }
        lane.cancel()
        resume.open()
        guard await finishesInTime("the lane to settle", { await lane.settle() }) else { return }
        #expect(returned.withLock { $0 })
        #expect(log.all == [.progress(generation: 1, done: 1)])
    }

    @Test("a job that finishes after being superseded posts nothing; the next job starts only after it returned")
    func supersededJobPostsNothing() async {
        let log = EventLog(), steps = Steps()
        let lane = Self.lane(log: log)
        let entered = Gate(), resume = Gate()
        lane.submit(generation: 1) { job in
            steps.append("start 1")
            entered.open()
            await resume.wait()
            steps.append("end 1")
            job.post(.finished(generation: 1))
        }
        guard await finishesInTime("the job to start", { await entered.wait() }) else { return }
        lane.submit(generation: 2) { job in
            steps.append("start 2")
            job.post(.progress(generation: 2, done: 1))
            job.post(.finished(generation: 2))
        }
        resume.open()
        guard await finishesInTime("the lane to settle", { await lane.settle() }) else { return }
        #expect(steps.all == ["start 1", "end 1", "start 2"])
        #expect(log.all == [.progress(generation: 2, done: 1), .finished(generation: 2)])
    }

    @Test("a job superseded in its debounce never runs; one that throws posts one failure event")
    func debounceCancelAndFailure() async {
        let clock = ManualClock()
        let log = EventLog(), steps = Steps()
        let lane = Self.lane(clock: clock, debounce: .milliseconds(20), log: log)
        lane.submit(generation: 1) { _ in steps.append("run 1") }
        #expect(await clock.waitForSleepers(1))
        lane.submit(generation: 2, skipDebounce: { true }) { _ in
            steps.append("run 2")
            throw QScopeError(file: "m.onnx", "broken")
        }
        // The clock never advanced: had job 2 waited for its debounce, this would time out.
        guard await finishesInTime("job 2", { await lane.settle() }) else { return }
        #expect(steps.all == ["run 2"])
        #expect(log.all == [.failed(generation: 2, message: "m.onnx: broken")])
    }

    @Test("elapsed time is read on the lane's clock, from after the debounce")
    func elapsedOnInjectedClock() async {
        let clock = ManualClock()
        let log = EventLog()
        let lane = Self.lane(clock: clock, debounce: .milliseconds(20), log: log)
        let elapsed = Mutex<Duration?>(nil)
        lane.submit(generation: 1) { job in
            clock.advance(by: .milliseconds(1500))
            elapsed.withLock { $0 = job.elapsed }
        }
        #expect(await clock.waitForSleepers(1))
        clock.advance(by: .milliseconds(20))
        guard await finishesInTime("the lane to settle", { await lane.settle() }) else { return }
        #expect(elapsed.withLock { $0 } == .milliseconds(1500))
    }
}
