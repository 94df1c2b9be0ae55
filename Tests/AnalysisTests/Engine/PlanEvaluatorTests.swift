import Foundation
import Testing
import Analysis

/// The real evaluator: prefix-cached, substituted passes give exactly what a fresh full pass gives.
/// (Run in release: `swift test -c release --filter PlanEvaluator`.)
@Suite("plan evaluator")
struct PlanEvaluatorTests {
    static func load(_ name: String, samples: Int) throws -> (Model, Dataset) {
        try BundledSamples.load(name, samples: samples)
    }


    @Test("a sequence of edits: every cached evaluation equals a fresh evaluator's", arguments: ["cnn", "vit"])
    func cacheEqualsFullPass(_ name: String) async throws {
        let (model, dataset) = try Self.load(name, samples: 300)
        let names = model.layers.map(\.name)
        let n = names.count
        var plans: [Plan] = []
        var plan = Plan(layerNames: names)
        plans.append(plan)
        for (layer, bits) in [(n - 1, 4), (n - 1, 2), (n / 2, 3), (n / 2, 2), (1, 4), (n / 2, 8), (n - 1, 8)] {
            plan.choices[layer].weights = .int(bits)
            plans.append(plan)
        }
        plans.append(Plan(layerNames: names, choices: names.map { _ in LayerChoice(weights: .int(3)) }))
        plans.append(plans[3])
        plans.append(plans[0])

        let cached = try PlanEvaluator(model: model, dataset: dataset, batchSize: 128)
        var resumedSomewhere = false
        for plan in plans {
            let result = try await cached.evaluate(plan)
            let fresh = try await PlanEvaluator(model: model, dataset: dataset, batchSize: 128).evaluate(plan)
            #expect(result.correct == fresh.correct, "plan \(plan.choices.map { $0.weightBits })")
            #expect(result.agreement == fresh.agreement)
            #expect(result.size == fresh.size)
            if result.resumedAtLayer > 0 && result.resumedAtLayer < n { resumedSomewhere = true }
        }
        #expect(resumedSomewhere)
        // 2-bit weights everywhere must hurt: the substitution really happens.
        let low = try await cached.evaluate(Plan(layerNames: names, choices: names.map { _ in LayerChoice(weights: .int(2)) }))
        #expect(low.correct! < low.referenceCorrect! - 10)
    }

    @Test("a repeated edit of one layer resumes at that layer")
    func resumesAtEditedLayer() async throws {
        let (model, dataset) = try Self.load("cnn", samples: 100)
        let names = model.layers.map(\.name)
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: 50)
        var plan = Plan(layerNames: names)
        _ = try await evaluator.evaluate(plan)
        plan.choices[0].weights = .int(8)
        _ = try await evaluator.evaluate(plan)  // resumes at layer 0's cut, saves nothing new before 4
        plan.choices[4].weights = .int(4)
        let first = try await evaluator.evaluate(plan)
        #expect(first.resumedAtLayer <= 4)
        plan.choices[4].weights = .int(3)
        let second = try await evaluator.evaluate(plan)
        #expect(second.resumedAtLayer == 4)
        #expect(await evaluator.cachedBoundaryLayers.contains(4))
    }

    @Test("a prefetched plan is answered from the cache, with the same numbers")
    func prefetched() async throws {
        let (model, dataset) = try Self.load("cnn", samples: 100)
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: 50)
        var plan = Plan(model: model)
        plan.choices[3].weights = .int(3)
        #expect(await !evaluator.isCached(plan))
        try await evaluator.prefetch(plan)
        #expect(await evaluator.isCached(plan))
        let passes = await evaluator.passes
        let cached = try await evaluator.evaluate(plan)
        #expect(await evaluator.passes == passes)
        let fresh = try await PlanEvaluator(model: model, dataset: dataset, batchSize: 50).evaluate(plan)
        #expect(cached.correct == fresh.correct && cached.agreement == fresh.agreement)
    }

    @Test("sizes follow methods.md §12: int b per-channel = n·b + rows·32 bits; float = 32 bits per weight")
    func sizes() async throws {
        let (model, dataset) = try Self.load("mlp", samples: 50)
        let names = model.layers.map(\.name)
        let evaluator = try PlanEvaluator(model: model, dataset: dataset)
        var plan = Plan(layerNames: names)
        plan.choices[0].weights = .int(4)
        let result = try await evaluator.evaluate(plan)
        let first = model.layers[0]
        let rows = first.weightShape[first.outputAxis]
        #expect(result.layers[0].payloadBits == first.parameterCount * 4)
        #expect(result.layers[0].totalBits == first.parameterCount * 4 + rows * 32)
        #expect(result.layers[1].totalBits == model.layers[1].parameterCount * 32)
        #expect(result.layers[0].sqnrDB > 10 && result.layers[0].sqnrDB < 30)
        #expect(result.layers[1].sqnrDB == .infinity)
        #expect(result.size.payloadBits == result.layers.reduce(0) { $0 + $1.payloadBits })
        #expect(!result.layers[0].gridLevels.isEmpty && result.layers[0].gridLevels.count <= 15)
    }

    @Test("activation choices are refused, not ignored")
    func refusesActivations() async throws {
        let (model, dataset) = try Self.load("mlp", samples: 20)
        var plan = Plan(model: model)
        plan.choices[0].activations = .int(8)
        let evaluator = try PlanEvaluator(model: model, dataset: dataset)
        await #expect(throws: QScopeError.self) { _ = try await evaluator.evaluate(plan) }
    }
}
