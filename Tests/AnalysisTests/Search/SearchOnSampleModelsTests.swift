import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// The searches on the bundled sample models (release build: `swift test -c release --filter Search`).
/// Traces use few samples and probes to stay fast: the properties checked hold for any traces.
@Suite("search on sample models")
struct SearchOnSampleModelsTests {
    static func load(_ name: String, samples: Int) throws -> (Model, Dataset) {
        try BundledSamples.load(name, samples: samples)
    }

    static func candidates(_ model: Model, _ data: Dataset, bits: [Int] = BitWidthList.defaultWidths) throws -> [LayerCandidates] {
        var options = HessianOptions()
        options.samples = 32
        options.maxProbes = 4
        options.minProbes = 4
        options.tolerance = 0
        let report = try HessianTraceEstimator.run(model: model, data: data, options: options)
        return try CandidateBuilder.build(model: model, bitWidths: bits, family: .integer,
                                          tracesPerParameter: report.layers.map(\.tracePerParameter))
    }

    @Test("HAWQ plan within budget and Σ Ω never above the Ω-greedy plan's", arguments: ["cnn", "vit"])
    func hawqBeatsOmegaGreedy(_ name: String) throws {
        let (model, data) = try Self.load(name, samples: 32)
        let layers = try Self.candidates(model, data)
        // Candidate sizes come from the quantizer's own count: codes plus one FP32 scale per channel.
        for (layer, info) in zip(layers, model.layers) {
            let channels = info.weightShape[info.outputAxis]
            #expect(layer.candidates.map(\.totalBits) == [2, 3, 4, 6, 8].map { $0 * layer.parameters + 32 * channels }, "\(layer.name)")
        }
        let problem = AllocationProblem(layers: layers)
        #expect(problem.resolutionBits == 8)
        let units = problem.groups
        let parameters = layers.reduce(0) { $0 + $1.parameters }
        for average in [2.5, 3.0, 3.5, 4.5, 6.0] {
            let budget = SizeBudget.averageBits(average).bits(parameters: parameters)
            let choice = try #require(problem.allocate(budgetBits: budget), "\(name) at \(average) bits")
            #expect(CandidateBuilder.totalBits(layers, choices: choice) <= budget)
            let omega = CandidateBuilder.omega(layers, choices: choice)!
            // Like for like (the same rounded sizes): the exact optimum is never above the heuristic.
            let greedyRounded = try #require(OmegaGreedyAllocator.allocate(layers, budget: problem.units(ofBudget: budget),
                                                                           size: { units[$0][$1].size }))
            #expect(omega <= CandidateBuilder.omega(layers, choices: greedyRounded)! * (1 + 1e-12), "\(name) at \(average)")
            // On true bits, whenever the heuristic's plan also fits the rounded budget.
            let greedy = try #require(OmegaGreedyAllocator.allocate(layers, budget: budget, size: { layers[$0].candidates[$1].totalBits }))
            if zip(units, greedy).reduce(0, { $0 + $1.0[$1.1].size }) <= problem.units(ofBudget: budget) {
                #expect(omega <= CandidateBuilder.omega(layers, choices: greedy)! * (1 + 1e-12), "\(name) at \(average)")
            }
        }
    }

    @Test("Greedy MP fits the budget, counts its evaluations and reports what a fresh evaluator measures")
    func greedyMixedPrecision() async throws {
        let (model, data) = try Self.load("cnn", samples: 200)
        let layers = try CandidateBuilder.build(model: model, bitWidths: [2, 4, 8], family: .integer)
        let parameters = layers.reduce(0) { $0 + $1.parameters }
        let budget = SizeBudget.averageBits(5).bits(parameters: parameters)
        let evaluator = try PlanEvaluator(model: model, dataset: data, batchSize: 100)
        let seen = Counter()
        let result = try await GreedyMixedPrecision.run(evaluator: evaluator, layers: layers, budgetBits: budget) { progress in
            seen.record(progress.evaluations)
        }
        #expect(result.evaluation.size.totalBits <= budget)
        #expect(CandidateBuilder.totalBits(layers, choices: result.choices) == result.evaluation.size.totalBits)
        #expect(!result.steps.isEmpty)
        // One more step would not have been needed: the plan before the last move did not fit.
        #expect(result.evaluation.size.totalBits + result.steps.last!.savedBits > budget)
        #expect(seen.maximum == result.evaluations && result.evaluations > result.steps.count)
        let fresh = try await PlanEvaluator(model: model, dataset: data, batchSize: 100).evaluate(result.plan)
        #expect(fresh.correct == result.evaluation.correct)
        // Ascending-layer order lets the evaluator resume passes instead of running every one in full.
        #expect(result.resumedEvaluations * 2 > result.evaluations, "\(result.resumedEvaluations) of \(result.evaluations) resumed")
    }

    @Test("Greedy MP stops when its task is cancelled")
    func greedyCancels() async throws {
        let (model, data) = try Self.load("cnn", samples: 100)
        let layers = try CandidateBuilder.build(model: model, bitWidths: [2, 4, 8], family: .integer)
        let parameters = layers.reduce(0) { $0 + $1.parameters }
        let evaluator = try PlanEvaluator(model: model, dataset: data, batchSize: 50)
        let task = Task {
            try await GreedyMixedPrecision.run(evaluator: evaluator, layers: layers,
                                               budgetBits: SizeBudget.averageBits(2.5).bits(parameters: parameters))
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
    }

    @Test("Pareto sweep: every distinct HAWQ plan and the uniform plans, front non-dominated")
    func paretoSweep() async throws {
        let (model, data) = try Self.load("mlp", samples: 200)
        let layers = try Self.candidates(model, data, bits: [2, 4, 8])
        let problem = AllocationProblem(layers: layers)
        let evaluator = try PlanEvaluator(model: model, dataset: data, batchSize: 100)
        let result = try await ParetoSweep.run(problem: problem, evaluator: evaluator)
        let hawq = result.points.filter { $0.source == .hawq }
        #expect(hawq.count == result.distinctPlans && hawq.count >= 3)
        #expect(Set(hawq.map(\.plan)).count == hawq.count)
        #expect(result.points.filter { $0.source == .uniform }.count == 3)
        // Each HAWQ plan is the optimum at its own size, and Σ Ω falls as the size grows.
        let sorted = hawq.sorted { $0.totalBits < $1.totalBits }
        #expect(zip(sorted, sorted.dropFirst()).allSatisfy { $0.omega > $1.omega })
        let table = problem.solve()
        for point in sorted {
            let choice = layers.indices.map { l in layers[l].candidates.firstIndex { $0.spec == point.plan.choices[l].weights }! }
            let units = zip(problem.groups, choice).reduce(0) { $0 + $1.0[$1.1].size }
            #expect(abs(table.best[units] - point.omega) <= 1e-9 * max(point.omega, 1e-300))
        }
        let front = result.points.filter(\.onFront)
        #expect(!front.isEmpty)
        for a in front {
            #expect(!result.points.contains { b in
                b.totalBits <= a.totalBits && b.evaluation.accuracy >= a.evaluation.accuracy
                    && (b.totalBits < a.totalBits || b.evaluation.accuracy > a.evaluation.accuracy)
            })
        }
        for a in result.points where !a.onFront {
            #expect(front.contains { $0.totalBits <= a.totalBits && $0.evaluation.accuracy >= a.evaluation.accuracy })
        }
    }
}

/// The largest value a progress callback saw (callbacks may come from another task).
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func record(_ v: Int) { lock.lock(); value = max(value, v); lock.unlock() }
    var maximum: Int { lock.lock(); defer { lock.unlock() }; return value }
}
