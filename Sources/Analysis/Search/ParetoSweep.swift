import Executor
import Foundation

/// The accuracy/size trade-off: every distinct HAWQ-optimal plan over all budgets,
/// plus the uniform plans (one per candidate width), each evaluated for accuracy; the points no other
/// point beats on both size and accuracy form the front.
public enum ParetoSweep {
    public enum Source: String, Sendable {
        case hawq
        case uniform
    }

    public struct Point: Sendable {
        public var source: Source
        public var plan: Plan
        public var evaluation: PlanEvaluation
        /// Σ Ω of the plan.
        public var omega: Double
        /// True when no other point is at least as small and at least as accurate, and better in one.
        public var onFront: Bool
        public var totalBits: Int { evaluation.size.totalBits }
    }

    public struct Result: Sendable {
        /// Sorted by size, then accuracy.
        public var points: [Point]
        /// Distinct HAWQ-optimal plans found (all of them are evaluated).
        public var distinctPlans: Int
        public var resolutionBits: Int
        public var seconds: Double
    }

    /// The plans a sweep evaluates, in evaluation order: the HAWQ-optimal plans in ascending size,
    /// then the uniform plans from the widest candidate down.
    public struct Schedule: Sendable {
        public var plans: [(source: Source, choices: [Int])]
        /// Distinct HAWQ-optimal plans over all budgets (before any cap).
        public var distinctPlans: Int
    }

    /// Every distinct HAWQ-optimal plan of `problem` over all budgets, thinned to `maxHAWQPlans`
    /// when given (evenly spaced along the list in ascending size, smallest and largest always kept:
    /// the front keeps its ends and its shape, only the density drops), and the uniform plans.
    public static func schedule(problem: AllocationProblem, maxHAWQPlans: Int? = nil) -> Schedule {
        let layers = problem.layers
        let table = problem.solve()
        var hawq: [[Int]] = []
        var seen = Set<[Int]>()
        for capacity in table.breakpoints {
            if let choice = table.solution(capacity: capacity), seen.insert(choice).inserted { hawq.append(choice) }
        }
        let distinct = hawq.count
        if let cap = maxHAWQPlans, hawq.count > max(cap, 2) {
            let picks = Set((0..<max(cap, 2)).map { Int((Double($0) * Double(hawq.count - 1) / Double(max(cap, 2) - 1)).rounded()) })
            hawq = picks.sorted().map { hawq[$0] }
        }
        var plans: [(source: Source, choices: [Int])] = hawq.map { (.hawq, $0) }
        // Uniform: every layer at the same candidate index (the same width).
        let widths = layers.first?.candidates.count ?? 0
        for index in (0..<widths).reversed() { plans.append((.uniform, Array(repeating: index, count: layers.count))) }
        return Schedule(plans: plans, distinctPlans: distinct)
    }

    /// Sweeps the allocation of `problem` over every budget and evaluates each distinct plan (at most
    /// `maxHAWQPlans` of them when given, see `schedule`). `progress(done, total)` is called after
    /// each evaluation; cancellable between evaluations.
    public static func run(problem: AllocationProblem, evaluator: PlanEvaluator, maxHAWQPlans: Int? = nil,
                           progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        let layers = problem.layers
        let schedule = schedule(problem: problem, maxHAWQPlans: maxHAWQPlans)
        let plans = schedule.plans
        // Consecutive plans of the sweep (ascending budget) differ in a few layers; the evaluator
        // resumes each pass at the first layer that differs from the previous plan when it can.
        var points: [Point] = []
        for (done, entry) in plans.enumerated() {
            let (source, choice) = entry
            try Task.checkCancellation()
            let evaluation = try await evaluator.evaluate(CandidateBuilder.plan(layers, choices: choice))
            points.append(Point(source: source, plan: evaluation.plan, evaluation: evaluation,
                                omega: CandidateBuilder.omega(layers, choices: choice) ?? .nan, onFront: false))
            progress(done + 1, plans.count)
        }
        markFront(&points)
        points.sort { ($0.totalBits, -$0.evaluation.orientedScore) < ($1.totalBits, -$1.evaluation.orientedScore) }
        return Result(points: points, distinctPlans: schedule.distinctPlans, resolutionBits: problem.resolutionBits,
                      seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// For points given as (size, accuracy): true where no other point is at least as small and at
    /// least as accurate, and strictly better in one (equal points all stay on the front).
    public static func nonDominated(_ points: [(totalBits: Int, accuracy: Double)]) -> [Bool] {
        points.map { a in
            !points.contains { b in
                b.totalBits <= a.totalBits && b.accuracy >= a.accuracy && (b.totalBits < a.totalBits || b.accuracy > a.accuracy)
            }
        }
    }

    /// Sets `onFront` on the non-dominated points (size smaller is better, accuracy larger is better).
    /// Of several points with equal size and accuracy, all stay on the front.
    public static func markFront(_ points: inout [Point]) {
        let flags = nonDominated(points.map { ($0.totalBits, $0.evaluation.orientedScore) })
        for i in points.indices { points[i].onFront = flags[i] }
    }
}
