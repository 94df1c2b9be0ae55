import Executor
/// One evaluated plan on the accuracy/size plane of the workbench's Trade-off pane.
public struct TradeoffPoint: Hashable, Sendable {
    public enum Source: String, Hashable, Sendable {
        /// Every layer at the same candidate width.
        case uniform
        /// A HAWQ-optimal plan of the Pareto sweep.
        case hawq
        /// A plan the user evaluated in this session.
        case session
    }

    public var source: Source
    public var plan: Plan
    /// Quantizable weights with metadata, in bits.
    public var totalBits: Int
    public var averageBits: Double
    /// The headline metric, larger is better (`PlanEvaluation.orientedScore`): accuracy or agreement
    /// 0...1 for a classifier, cosine, SQNR dB, or −KL.
    public var accuracy: Double

    public init(source: Source, plan: Plan, totalBits: Int, averageBits: Double, accuracy: Double) {
        self.source = source
        self.plan = plan
        self.totalBits = totalBits
        self.averageBits = averageBits
        self.accuracy = accuracy
    }

    /// The point of an evaluation.
    public init(source: Source, evaluation: PlanEvaluation) {
        self.init(source: source, plan: evaluation.plan, totalBits: evaluation.size.totalBits,
                  averageBits: evaluation.size.averageTotalBits, accuracy: evaluation.orientedScore)
    }

    /// Size in MB of 2^20 bytes, metadata included.
    public var megabytes: Double { Double(totalBits) / 8 / 1_048_576 }
}

/// What the `TradeoffEngine` tells the workbench, tagged with the request's generation (allocation
/// and sweep requests count separately).
public enum TradeoffEvent: Hashable, Sendable {
    /// The HAWQ allocation for request `generation`.
    case allocated(generation: UInt64, HAWQAllocation.Result)
    /// The allocation could not be made; `message` is one line (e.g. the budget is below the smallest plan).
    case allocationFailed(generation: UInt64, message: String)
    /// The sweep will evaluate `total` plans: `hawq` HAWQ plans kept of `distinct` distinct ones
    /// (0 and 0 for a sweep without traces), plus the uniform plans.
    case sweepPlanned(generation: UInt64, hawq: Int, distinct: Int, total: Int)
    /// One more evaluated plan of the sweep (`done` of the planned total).
    case sweepPoint(generation: UInt64, TradeoffPoint, done: Int)
    /// Every planned point is published; `seconds` is the sweep's time on the engine's clock.
    case sweepFinished(generation: UInt64, seconds: Double)
    case sweepFailed(generation: UInt64, message: String)

    public var generation: UInt64 {
        switch self {
        case .allocated(let g, _), .allocationFailed(let g, _), .sweepPlanned(let g, _, _, _), .sweepPoint(let g, _, _),
             .sweepFinished(let g, _), .sweepFailed(let g, _):
            return g
        }
    }
}
