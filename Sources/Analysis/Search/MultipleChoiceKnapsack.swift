import Executor
/// Exact solution of the multiple-choice knapsack that HAWQ-V3's allocation becomes with one budget
/// constraint: pick one option per group so that Σ cost is minimal
/// and Σ size ≤ capacity.
///
/// Sizes are integers in units of a chosen resolution (`AllocationProblem` rounds each option's size
/// up and the budget down, so a plan the table accepts never exceeds the true budget). The dynamic
/// program `f_g(b) = min_o f_{g−1}(b − size_go) + cost_go`, `f_0(b) = 0` for every b ≥ 0, is solved
/// once for every capacity up to `capacity`, so the optimum at any smaller budget (the Pareto sweep)
/// is a backtrack away.
///
/// Cost: groups × (capacity + 1) × options steps; memory one byte per group and capacity (the choice
/// table) plus two rows of Doubles.
public struct MultipleChoiceKnapsack: Sendable {
    public struct Option: Hashable, Sendable {
        /// Size in resolution units, ≥ 0.
        public var size: Int
        public var cost: Double
        public init(size: Int, cost: Double) {
            self.size = size
            self.cost = cost
        }
    }

    public let groups: [[Option]]
    public let capacity: Int
    /// `best[b]`: the minimal Σ cost within capacity b (+inf when no choice fits).
    public private(set) var best: [Double]
    /// `choice[g][b]`: the option of group g in the optimum of groups 0...g within capacity b.
    private var choice: [[UInt8]]

    /// Solves the table for capacities 0...capacity.
    /// - Precondition: every group has 1...255 options with sizes ≥ 0; capacity ≥ 0.
    public init(groups: [[Option]], capacity: Int) {
        precondition(capacity >= 0, "capacity must be non-negative")
        precondition(groups.allSatisfy { !$0.isEmpty && $0.count < 256 && $0.allSatisfy { $0.size >= 0 } }, "1...255 options of size ≥ 0 per group")
        self.groups = groups
        self.capacity = capacity
        var previous = [Double](repeating: 0, count: capacity + 1)
        var current = [Double](repeating: .infinity, count: capacity + 1)
        var table: [[UInt8]] = []
        table.reserveCapacity(groups.count)
        for options in groups {
            var picks = [UInt8](repeating: 0, count: capacity + 1)
            previous.withUnsafeBufferPointer { prev in
                current.withUnsafeMutableBufferPointer { cur in
                    picks.withUnsafeMutableBufferPointer { pick in
                        for b in 0...capacity {
                            var value = Double.infinity
                            var arg = 0
                            for (o, option) in options.enumerated() where option.size <= b {
                                let candidate = prev[b - option.size] + option.cost
                                // Strictly better only: ties keep the earlier option, so the result is
                                // deterministic.
                                if candidate < value {
                                    value = candidate
                                    arg = o
                                }
                            }
                            cur[b] = value
                            pick[b] = UInt8(arg)
                        }
                    }
                }
            }
            table.append(picks)
            swap(&previous, &current)
        }
        best = previous
        choice = table
    }

    /// The optimal choice (one option index per group) within `capacity` (≤ the table's), or nil
    /// when nothing fits.
    public func solution(capacity budget: Int) -> [Int]? {
        precondition(budget >= 0 && budget <= capacity, "budget outside the solved table")
        guard best[budget].isFinite else { return nil }
        var remaining = budget
        var picks = [Int](repeating: 0, count: groups.count)
        for g in groups.indices.reversed() {
            let o = Int(choice[g][remaining])
            picks[g] = o
            remaining -= groups[g][o].size
        }
        return picks
    }

    /// The capacities at which the optimum strictly improves, ascending: each gives a distinct
    /// optimal choice (the first capacity where anything fits comes first).
    public var breakpoints: [Int] {
        var points: [Int] = []
        var last = Double.infinity
        for b in 0...capacity where best[b] < last {
            points.append(b)
            last = best[b]
        }
        return points
    }
}
