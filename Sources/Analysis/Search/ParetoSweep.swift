import Foundation

/// The accuracy/size trade-off (issue 7 part 4): every distinct HAWQ-optimal plan over all budgets,
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

    /// Sweeps the allocation of `problem` over every budget and evaluates each distinct plan.
    /// `progress(done, total)` is called after each evaluation; cancellable between evaluations.
    public static func run(problem: AllocationProblem, evaluator: PlanEvaluator,
                           progress: @Sendable (Int, Int) -> Void = { _, _ in }) async throws -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        let layers = problem.layers
        let table = problem.solve()
        var plans: [(Source, [Int])] = []
        var seen = Set<[Int]>()
        for capacity in table.breakpoints {
            if let choice = table.solution(capacity: capacity), seen.insert(choice).inserted { plans.append((.hawq, choice)) }
        }
        let distinct = plans.count
        // Uniform: every layer at the same candidate index (the same width).
        let widths = layers.first?.candidates.count ?? 0
        for index in (0..<widths).reversed() { plans.append((.uniform, Array(repeating: index, count: layers.count))) }
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
        points.sort { ($0.totalBits, -$0.evaluation.accuracy) < ($1.totalBits, -$1.evaluation.accuracy) }
        return Result(points: points, distinctPlans: distinct, resolutionBits: problem.resolutionBits,
                      seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    /// Sets `onFront` on the non-dominated points (size smaller is better, accuracy larger is better).
    /// Of several points with equal size and accuracy, all stay on the front.
    public static func markFront(_ points: inout [Point]) {
        for i in points.indices {
            let a = points[i]
            points[i].onFront = !points.contains { b in
                b.totalBits <= a.totalBits && b.evaluation.accuracy >= a.evaluation.accuracy
                    && (b.totalBits < a.totalBits || b.evaluation.accuracy > a.evaluation.accuracy)
            }
        }
    }
}
