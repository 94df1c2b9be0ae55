/// What the engine is doing, as far as the screen knows.
public enum EngineStatus: Hashable, Sendable {
    /// Nothing pending: the shown numbers belong to the current plan (or failed for it).
    case idle
    /// A request was sent and has not started (debounce, or waiting for a superseded pass to stop).
    case queued
    /// Batches `done` of `total` are through.
    case running(done: Int, total: Int)
}
