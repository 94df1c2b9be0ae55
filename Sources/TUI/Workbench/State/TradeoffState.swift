import Analysis
import Executor

/// What the screen knows about the automatic allocation (`a`) and the Trade-off pane: a value inside
/// `AppState`, changed only by the reducer (Reducer+Tradeoff.swift).
public struct TradeoffState: Equatable, Sendable {
    /// The allocation asked for and not answered yet.
    public enum Allocation: Equatable, Sendable {
        case none
        /// No traces yet: the allocation starts when the first estimate arrives.
        case waitingForTraces(SizeBudget)
        /// Running from an estimate of `probes` probes (`final`: the analysis has finished).
        case running(SizeBudget, probes: Int, final: Bool)
    }

    public enum Sweep: Equatable, Sendable {
        /// Not started (the pane has not been opened yet).
        case notStarted
        /// `done` of `total` plans evaluated (`total` 0 until the schedule is known).
        case running(done: Int, total: Int)
        case finished(seconds: Double)
        case failed(String)
    }

    /// True while the pane replaces the Detail panel.
    public var isVisible = false
    public var allocation: Allocation = .none
    /// The request number of the last allocation; answers of older ones are dropped.
    public var allocationGeneration: UInt64 = 0
    /// What the budget prompt proposes (the last budget typed).
    public var budgetText = ""
    public var sweep: Sweep = .notStarted
    public var sweepGeneration: UInt64 = 0
    /// True once a sweep with final traces (the HAWQ front) has been asked for.
    public var sweptWithFinalTraces = false
    /// HAWQ plans the running/last sweep evaluates, and distinct HAWQ plans over all budgets.
    public var hawqPlanned = 0
    public var hawqDistinct = 0
    /// Uniform and HAWQ points of the sweeps, in arrival order, one per plan.
    public var points: [TradeoffPoint] = []
    /// Every plan evaluated this session (the engine's results), one per plan, in order.
    public var history: [TradeoffPoint] = []

    public init() {}

    /// Adds `point` to `points` unless a point of that plan is there already.
    mutating func record(_ point: TradeoffPoint) {
        if !points.contains(where: { $0.plan == point.plan }) { points.append(point) }
    }

    /// Adds `point` to `history` unless that plan is there already.
    mutating func remember(_ point: TradeoffPoint) {
        if !history.contains(where: { $0.plan == point.plan }) { history.append(point) }
    }

    /// The sweep's points on the Pareto front of all sweep and session points (not dominated in
    /// size and accuracy), sorted by size.
    public var front: [TradeoffPoint] {
        let all = points + history
        let flags = ParetoSweep.nonDominated(all.map { ($0.totalBits, $0.accuracy) })
        return zip(all, flags).filter { $1 }.map(\.0).sorted { ($0.totalBits, $0.accuracy) < ($1.totalBits, $1.accuracy) }
    }
}
