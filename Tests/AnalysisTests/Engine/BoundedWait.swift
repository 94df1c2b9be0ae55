import Synchronization
import Testing

/// How long a test waits for something its own signals should bring about at once (a gate opening,
/// a cancelled job returning) before it calls it a failure. Only a safety net on the real clock:
/// nothing a test checks depends on it, it just turns a regression that would hang (a job never
/// cancelled, a settle that never returns) into a failing test.
let boundedWaitLimit: Duration = .seconds(10)

/// Runs `operation` and waits at most `limit` (on the continuous clock) for it to return.
///
/// Returns true when it returned in time. Otherwise records an issue naming `what` at the caller's
/// line and returns false, leaving `operation` suspended in its own task (it holds no thread while
/// it waits on a gate or a continuation); the caller should then stop, since what follows would
/// wait on the same stuck work.
func finishesInTime(_ what: String, within limit: Duration = boundedWaitLimit,
                    sourceLocation: SourceLocation = #_sourceLocation,
                    _ operation: @escaping @Sendable () async -> Void) async -> Bool {
    let race = FirstOutcome()
    let finished = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
        race.set(continuation)
        let timer = Task {
            try? await ContinuousClock().sleep(for: limit)
            race.resolve(false)  // a no-op when the work won
        }
        Task {
            await operation()
            race.resolve(true)
            timer.cancel()
        }
    }
    if !finished {
        Issue.record(Comment(rawValue: "timed out after \(limit) waiting for \(what)"), sourceLocation: sourceLocation)
    }
    return finished
}

/// Hands the first of two outcomes to a continuation and ignores the second.
private final class FirstOutcome: Sendable {
    private let continuation = Mutex<CheckedContinuation<Bool, Never>?>(nil)

    func set(_ continuation: CheckedContinuation<Bool, Never>) {
        self.continuation.withLock { $0 = continuation }
    }

    func resolve(_ outcome: Bool) {
        continuation.withLock { waiting in defer { waiting = nil }; return waiting }?.resume(returning: outcome)
    }
}
