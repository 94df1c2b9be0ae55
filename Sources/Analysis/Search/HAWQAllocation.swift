import Executor
import Foundation

/// The one HAWQ-V3 allocation both `qscope search --method hawq` and the workbench's `a` key run:
/// the per-layer candidates get the traces, the budget is checked against the smallest plan, and the
/// exact dynamic program (`AllocationProblem`) picks the minimal-Σ Ω plan within it.
///
/// Keeping this in one function is what makes the two paths agree: fed the same candidates, traces
/// and budget they return the same plan (tested in `HAWQAllocationTests`).
public enum HAWQAllocation {
    public struct Result: Hashable, Sendable {
        /// The allocated plan (weights only; activations stay float).
        public var plan: Plan
        /// Candidate index per layer.
        public var choices: [Int]
        /// Storage of the plan's quantizable weights with every piece of metadata, in bits.
        public var totalBits: Int
        /// Number of quantizable weights (for the average).
        public var parameters: Int
        /// The budget in bits the plan was allocated within (rounded down from the stated budget).
        public var budgetBits: Int
        /// Σ Ω of the plan (HAWQ-V2 sensitivity: trace / #params · ‖Q(W) − W‖² per layer).
        public var omega: Double
        /// Bits per size unit of the dynamic program (8: whole bytes).
        public var resolutionBits: Int

        public init(plan: Plan, choices: [Int], totalBits: Int, parameters: Int, budgetBits: Int, omega: Double, resolutionBits: Int) {
            self.plan = plan
            self.choices = choices
            self.totalBits = totalBits
            self.parameters = parameters
            self.budgetBits = budgetBits
            self.omega = omega
            self.resolutionBits = resolutionBits
        }

        /// Predicted average bits per weight, metadata included.
        public var averageBits: Double { Double(totalBits) / Double(max(parameters, 1)) }
        /// Predicted size in MB of 2^20 bytes, metadata included.
        public var megabytes: Double { Double(totalBits) / 8 / 1_048_576 }
    }

    /// Allocates within `budget`.
    ///
    /// - Parameters:
    ///   - candidates: per layer in model order (from `CandidateBuilder.build`, traces not needed:
    ///     they are replaced by `tracesPerParameter`).
    ///   - tracesPerParameter: Hessian trace / #params per layer, same order and count.
    /// - Throws: `QScopeError` (one line) when the budget is below the smallest plan, when it fits
    ///   that plan only within the rounding of the dynamic program, or when the trace count is wrong.
    public static func allocate(candidates: [LayerCandidates], tracesPerParameter: [Double],
                                budget: SizeBudget) throws -> Result {
        let layers = try CandidateBuilder.withTraces(candidates, tracesPerParameter, for: "the allocation")
        let budgetBits = try budget.check(against: layers)
        let problem = AllocationProblem(layers: layers)
        guard let choices = problem.allocate(budgetBits: budgetBits) else {
            throw QScopeError("\(budget.description) fits the smallest plan only by less than the "
                              + "\(problem.resolutionBits)-bit rounding per layer of the allocation; raise the budget slightly")
        }
        return Result(plan: CandidateBuilder.plan(layers, choices: choices), choices: choices,
                      totalBits: CandidateBuilder.totalBits(layers, choices: choices),
                      parameters: layers.reduce(0) { $0 + $1.parameters }, budgetBits: budgetBits,
                      omega: CandidateBuilder.omega(layers, choices: choices) ?? .nan, resolutionBits: problem.resolutionBits)
    }
}
