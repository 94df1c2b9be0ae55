import Executor
import Foundation
import TestSupport
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

    @Test("idle work: edits save into reserved memory, and extendBoundaries makes the next edit of every later layer resume at it")
    func idleWork() async throws {
        let (model, dataset) = try Self.load("cnn", samples: 300)
        let n = model.layers.count
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: 128)
        var plan = Plan(model: model)
        _ = try await evaluator.evaluate(plan)
        await evaluator.reserveBoundaryMemory()
        let reserved = await evaluator.boundaryMemory
        #expect(!reserved.freeCapacities.isEmpty)
        await evaluator.reserveBoundaryMemory()
        #expect(await evaluator.boundaryMemory.mappedBytes == reserved.mappedBytes)  // nothing missing: no new mapping

        plan.choices[1].weights = .int(4)
        #expect(try await evaluator.evaluate(plan).resumedAtLayer == 1)  // the FP32 pass's cut
        plan.choices[4].weights = .int(4)
        let edited = try await evaluator.evaluate(plan)
        #expect(edited.resumedAtLayer == 1)
        // It saved its cut at layer 4 into a reserved slab: nothing newly mapped, one slab fewer free.
        let after = await evaluator.boundaryMemory
        #expect(after.mappedBytes == reserved.mappedBytes)
        #expect(after.freeCapacities.count == reserved.freeCapacities.count - 1)

        try await evaluator.extendBoundaries()
        for k in 2..<n {
            var next = plan
            next.choices[k].weights = .int(3)
            let result = try await evaluator.evaluate(next)
            #expect(result.resumedAtLayer == k, "layer \(k)")
            let fresh = try await PlanEvaluator(model: model, dataset: dataset, batchSize: 128).evaluate(next)
            #expect(result.correct == fresh.correct && result.agreement == fresh.agreement, "layer \(k)")
        }
    }

    @Test("a prefetch leaves the user's plan as the reference for the next edit's cut")
    func prefetchKeepsLastPlan() async throws {
        let (model, dataset) = try Self.load("cnn", samples: 100)
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: 50)
        var plan = Plan(model: model)
        plan.choices[2].weights = .int(4)
        _ = try await evaluator.evaluate(plan)
        var speculated = plan
        speculated.choices[3].weights = .int(3)
        try await evaluator.prefetch(speculated)  // saves its cut at 3, where it differs from `plan`
        #expect(await evaluator.cachedBoundaryLayers.contains(3))
        // The next request differs from `plan` first at layer 5 (from the prefetch at 3): the cut goes to 5.
        var next = plan
        next.choices[5].weights = .int(3)
        _ = try await evaluator.evaluate(next)
        #expect(await evaluator.cachedBoundaryLayers.contains(5))
        next.choices[5].weights = .int(2)
        #expect(try await evaluator.evaluate(next).resumedAtLayer == 5)
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

    @Test("sizes count all metadata: int b per-channel = n·b + rows·32 bits; float = 32 bits per weight")
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
