import Executor
import Foundation

/// Greedy MP (MPTQ-ViT): start every layer at its widest candidate,
/// then repeatedly make the one-step lowering whose **measured** accuracy loss per saved bit is
/// smallest, until the plan fits the budget.
///
/// Every candidate move is evaluated on the evaluation data by a `PlanEvaluator`. Moves are evaluated
/// in ascending layer order: the evaluator saves the activations at the first layer where a plan
/// differs from the previous one, so the move at layer ℓ resumes at the cut saved for the move at
/// ℓ − 1 (or earlier), and cuts before the last applied move stay valid in the next round.
public enum GreedyMixedPrecision {
    /// Where the search is, after each evaluation.
    public struct Progress: Sendable {
        /// Moves applied so far.
        public var steps: Int
        public var evaluations: Int
        /// Size of the current plan (bits, metadata included) and the budget.
        public var totalBits: Int
        public var budgetBits: Int
        /// The headline metric of the current plan, larger is better (`PlanEvaluation.orientedScore`:
        /// the fraction correct for a labelled classifier).
        public var accuracy: Double
    }

    /// One applied move.
    public struct Step: Sendable {
        public var layer: Int
        public var from: QuantizerSpec
        public var to: QuantizerSpec
        /// Headline metric lost (in its units, `orientedScore`; negative = gained) and bits saved.
        public var accuracyLoss: Double
        public var savedBits: Int
    }

    public struct Result: Sendable {
        /// Candidate index per layer.
        public var choices: [Int]
        public var plan: Plan
        public var evaluation: PlanEvaluation
        public var steps: [Step]
        /// Plans evaluated (the start plan and every candidate move; repeated plans answered from
        /// the evaluator's memo count too).
        public var evaluations: Int
        /// Evaluations whose forward passes resumed from a saved cut instead of the input.
        public var resumedEvaluations: Int
        public var seconds: Double
    }

    /// Runs the search.
    /// - Throws: `CancellationError` when the task is cancelled; `QScopeError` when even the smallest
    ///   plan exceeds `budgetBits` or the evaluator refuses a plan.
    public static func run(evaluator: PlanEvaluator, layers: [LayerCandidates], budgetBits: Int,
                           progress: @Sendable (Progress) -> Void = { _ in }) async throws -> Result {
        let start = DispatchTime.now().uptimeNanoseconds
        let minimum = layers.reduce(0) { $0 + $1.candidates[$1.smallestIndex].totalBits }
        guard minimum <= budgetBits else {
            throw QScopeError("the budget (\(budgetBits) bits) is below the smallest plan (\(minimum) bits)")
        }
        var choices = layers.map(\.widestIndex)
        var total = CandidateBuilder.totalBits(layers, choices: choices)
        var current = try await evaluator.evaluate(CandidateBuilder.plan(layers, choices: choices))
        var evaluations = 1
        var resumed = 0
        var steps: [Step] = []
        // Accuracy and agreement compare whole counts (exact ties); the other metrics their value.
        func score(_ e: PlanEvaluation) -> Double {
            switch e.headline {
            case .accuracy: return Double(e.correct ?? e.agreement)
            case .agreement: return Double(e.agreement)
            default: return e.orientedScore
            }
        }
        progress(Progress(steps: 0, evaluations: 1, totalBits: total, budgetBits: budgetBits, accuracy: current.orientedScore))

        while total > budgetBits {
            try Task.checkCancellation()
            var best: (layer: Int, next: Int, evaluation: PlanEvaluation, ratio: Double, saved: Int)?
            for (l, layer) in layers.enumerated() {
                let size = layer.candidates[choices[l]].totalBits
                guard let next = layer.candidates.indices.filter({ layer.candidates[$0].totalBits < size })
                    .max(by: { layer.candidates[$0].totalBits < layer.candidates[$1].totalBits }) else { continue }
                var moved = choices
                moved[l] = next
                let evaluation = try await evaluator.evaluate(CandidateBuilder.plan(layers, choices: moved))
                evaluations += 1
                if evaluation.resumedAtLayer > 0 { resumed += 1 }
                progress(Progress(steps: steps.count, evaluations: evaluations, totalBits: total, budgetBits: budgetBits,
                                  accuracy: current.orientedScore))
                let saved = size - layer.candidates[next].totalBits
                let ratio = Double(score(current) - score(evaluation)) / Double(saved)
                // Ties (common: accuracy moves in whole samples) go to the move that keeps more
                // predictions equal to FP32's, then to the one saving more bits.
                let better: Bool
                if let b = best {
                    if ratio != b.ratio { better = ratio < b.ratio }
                    else if evaluation.agreement != b.evaluation.agreement { better = evaluation.agreement > b.evaluation.agreement }
                    else { better = saved > b.saved }
                } else {
                    better = true
                }
                if better { best = (l, next, evaluation, ratio, saved) }
            }
            guard let move = best else { break }  // unreachable: the minimum fits, so a move exists
            steps.append(Step(layer: move.layer, from: layers[move.layer].candidates[choices[move.layer]].spec,
                              to: layers[move.layer].candidates[move.next].spec,
                              accuracyLoss: current.orientedScore - move.evaluation.orientedScore, savedBits: move.saved))
            choices[move.layer] = move.next
            total -= move.saved
            current = move.evaluation
            progress(Progress(steps: steps.count, evaluations: evaluations, totalBits: total, budgetBits: budgetBits,
                              accuracy: current.orientedScore))
        }
        return Result(choices: choices, plan: current.plan, evaluation: current, steps: steps, evaluations: evaluations,
                      resumedEvaluations: resumed, seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}
