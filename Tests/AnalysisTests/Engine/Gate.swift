import Synchronization

/// A one-shot barrier for tests: `wait()` suspends until `open()` has been called (and returns at
/// once after it). Waiting ignores task cancellation on purpose, so a job held at a gate can be made
/// to run on, and return a result, after it was superseded or cancelled; tests use it instead of
/// sleeps or polling, so nothing depends on timing.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// Lets every waiter, present and future, through.
    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `open()` has been called.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }
}
