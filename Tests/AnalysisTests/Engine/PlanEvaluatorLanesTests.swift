import Executor
import Foundation
import Synchronization
import TestSupport
import Testing
import Analysis

/// The evaluator's lanes (batches side by side, one graph per lane): the same numbers as one lane,
/// and a cancellation that stops every lane and keeps nothing of the pass.
@Suite("plan evaluator lanes")
struct PlanEvaluatorLanesTests {
    /// Edits that resume at different cuts (and a full pass), on 300 samples in batches of 32: nine
    /// whole batches and a last one of 12, so both lanes run both graph sizes.
    @Test("two lanes give exactly what one lane gives, full and resumed passes alike", arguments: ["cnn", "vit"])
    func twoLanesEqualOne(_ name: String) async throws {
        let (model, dataset) = try BundledSamples.load(name, samples: 300)
        let n = model.layers.count
        let one = try PlanEvaluator(model: model, dataset: dataset, batchSize: 32, lanes: 1)
        let two = try PlanEvaluator(model: model, dataset: dataset, batchSize: 32, lanes: 2)
        #expect(one.lanes == 1 && two.lanes == 2)
        var plan = Plan(model: model)
        var edits: [(Int, Int)] = [(0, 3), (n / 2, 2), (n - 1, 2), (n / 2, 4), (1, 2)]
        edits.append((0, 2))
        var resumedLater = false
        for (layer, bits) in [(-1, 0)] + edits {
            if layer >= 0 { plan.choices[layer].weights = .int(bits) }
            let a = try await one.evaluate(plan)
            let b = try await two.evaluate(plan)
            #expect(a.correct == b.correct && a.agreement == b.agreement, "plan \(plan.choices.map(\.weightBits))")
            #expect(a.resumedAtLayer == b.resumedAtLayer)
            if b.resumedAtLayer > 0 && b.resumedAtLayer < n { resumedLater = true }
        }
        #expect(resumedLater)
        // Quantization really happened (the comparison above is not between two FP32 passes).
        #expect(try await two.evaluate(plan).agreement < dataset.count)
    }

    /// Cancelled from its own first progress report: the calling lane stops before its next batch and
    /// tells the other lane, nothing more is reported, nothing is cached, and the next evaluation of
    /// the same plan is a whole, correct pass.
    @Test("a cancelled pass stops every lane, reports no more progress and keeps nothing")
    func cancellationStopsEveryLane() async throws {
        let (model, dataset) = try BundledSamples.load("cnn", samples: 300)
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: 32, lanes: 2)
        var plan = Plan(model: model)
        _ = try await evaluator.evaluate(plan)
        let boundaries = await evaluator.cachedBoundaryLayers
        let passes = await evaluator.passes
        plan.choices[0].weights = .int(2)
        let reports = ProgressLog()
        let task = Task { [plan] in
            try await evaluator.evaluate(plan) { done, _ in
                reports.done.withLock { $0.append(done) }
                withUnsafeCurrentTask { $0?.cancel() }
            }
        }
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        let seen = reports.done.withLock { $0 }
        #expect(seen.count == 1, "progress after the cancellation: \(seen)")
        #expect(seen.first ?? 0 < 10)
        #expect(await evaluator.passes == passes)
        #expect(await !evaluator.isCached(plan))
        #expect(await evaluator.cachedBoundaryLayers == boundaries)

        let again = try await evaluator.evaluate(plan)
        let fresh = try await PlanEvaluator(model: model, dataset: dataset, batchSize: 32, lanes: 1).evaluate(plan)
        #expect(again.correct == fresh.correct && again.agreement == fresh.agreement)
    }
}

/// The `done` counts a progress closure was called with.
private final class ProgressLog: Sendable {
    let done = Mutex<[Int]>([])
}
