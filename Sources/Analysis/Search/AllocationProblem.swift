import Executor
/// HAWQ-V3's bit allocation with a size budget (its ILP, generalised from {4,8} to any bit
/// set): minimise Σ Ω over the layers subject to Σ size ≤ budget, where every layer takes exactly one
/// of its candidates.
///
/// Discretisation: sizes are counted in units of `resolutionBits` (default 8: whole bytes), each
/// candidate's size rounded **up** and the budget rounded **down**, so the plan the dynamic program
/// returns never exceeds the true budget. The result is exactly optimal for the rounded sizes; a
/// plan that fits the true budget only thanks to the rounding slack (at most `resolutionBits − 1`
/// bits per layer) can be missed.
public struct AllocationProblem: Sendable {
    public let layers: [LayerCandidates]
    /// Bits per size unit of the dynamic program.
    public let resolutionBits: Int

    /// The table is kept to at most this many capacities (one byte per layer each); a larger model
    /// gets a coarser resolution (a multiple of 8 bits).
    public static let maxCapacityUnits = 1 << 22

    /// - Precondition: every layer has a trace (Ω is defined).
    public init(layers: [LayerCandidates], resolutionBits: Int? = nil) {
        precondition(layers.allSatisfy { $0.tracePerParameter != nil }, "the allocation needs every layer's trace")
        self.layers = layers
        if let resolutionBits {
            self.resolutionBits = max(1, resolutionBits)
        } else {
            let largest = layers.reduce(0) { $0 + ($1.candidates.map(\.totalBits).max() ?? 0) }
            let bytes = (largest + 7) / 8
            let factor = max(1, (bytes + Self.maxCapacityUnits - 1) / Self.maxCapacityUnits)
            self.resolutionBits = 8 * factor
        }
    }

    /// A size in bits as whole units, rounded up.
    public func units(ofBits bits: Int) -> Int { (bits + resolutionBits - 1) / resolutionBits }

    /// A budget in bits as whole units, rounded down.
    public func units(ofBudget bits: Int) -> Int { bits / resolutionBits }

    /// The options of each layer in resolution units.
    public var groups: [[MultipleChoiceKnapsack.Option]] {
        layers.map { layer in
            layer.candidates.indices.map { MultipleChoiceKnapsack.Option(size: units(ofBits: layer.candidates[$0].totalBits), cost: layer.omega($0)!) }
        }
    }

    /// Units of the plan with every layer at its largest candidate (no budget above it changes the answer).
    public var largestUnits: Int { groups.reduce(0) { $0 + ($1.map(\.size).max() ?? 0) } }

    /// Solves the dynamic program for every capacity up to `budgetBits` (or up to the largest plan).
    public func solve(upToBits budgetBits: Int? = nil) -> MultipleChoiceKnapsack {
        let capacity = budgetBits.map { min(units(ofBudget: $0), largestUnits) } ?? largestUnits
        return MultipleChoiceKnapsack(groups: groups, capacity: max(0, capacity))
    }

    /// The minimal-Σ Ω choice (candidate index per layer) within `budgetBits`, or nil when the
    /// smallest plan does not fit in the rounded budget.
    public func allocate(budgetBits: Int) -> [Int]? {
        let table = solve(upToBits: budgetBits)
        return table.solution(capacity: table.capacity)
    }
}
