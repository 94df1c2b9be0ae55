import Executor
/// What the engine tells its client (the workbench), tagged with the generation of the request.
public enum EngineEvent: Hashable, Sendable {
    /// The evaluation of `generation` began (after the debounce).
    case started(generation: UInt64)
    /// `done` of `total` batches are through.
    case progress(generation: UInt64, done: Int, total: Int)
    case finished(generation: UInt64, PlanEvaluation)
    /// The plan could not be evaluated; `message` is one line.
    case failed(generation: UInt64, message: String)

    public var generation: UInt64 {
        switch self {
        case .started(let g), .progress(let g, _, _), .finished(let g, _), .failed(let g, _): return g
        }
    }
}
