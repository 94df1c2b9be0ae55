import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// `CompiledGraph.run` reads the caller's input buffers in place for one pass (no copy into the
/// arena) when nothing reads the inputs afterwards; the pointer tables must point back at the arena
/// afterwards, so that `setInputs` + `run(steps:)` (the workbench's resumed passes) see their own data.
@Suite("forward passes read the caller's input in place")
struct InputBindingTests {
    @Test(arguments: ["mlp", "cnn", "vit"])
    func borrowedPassEqualsCopiedPass(_ name: String) throws {
        let (model, dataset) = try BundledSamples.load(name)
        let batch = 4
        let per = dataset.sampleShape.reduce(1, *)
        let graph = try model.compile(batch: batch, sampleShape: dataset.sampleShape)
        var first = Array(dataset.x[0..<(batch * per)])
        let other = Array(dataset.x[(batch * per)..<(2 * batch * per)])

        first.withUnsafeBufferPointer { graph.setInputs([$0.baseAddress!]) }
        graph.run(steps: 0..<graph.stepCount)
        let copied = Array(graph.output(0))
        other.withUnsafeBufferPointer { graph.setInputs([$0.baseAddress!]) }
        graph.run(steps: 0..<graph.stepCount)
        let otherExpected = Array(graph.output(0))
        #expect(copied != otherExpected)

        first.withUnsafeBufferPointer { graph.run([$0.baseAddress!]) }
        #expect(Array(graph.output(0)) == copied)

        // The borrowed buffer is gone after the pass: a resumed pass must read the arena, not it.
        for i in first.indices { first[i] = .nan }
        other.withUnsafeBufferPointer { graph.setInputs([$0.baseAddress!]) }
        graph.run(steps: 0..<graph.stepCount)
        #expect(Array(graph.output(0)) == otherExpected)
    }

    @Test func retainedGraphsKeepTheirInputInTheArena() throws {
        let (model, dataset) = try BundledSamples.load("mlp")
        let per = dataset.sampleShape.reduce(1, *)
        let graph = try model.compile(batch: 2, sampleShape: dataset.sampleShape, retainAll: true)
        let input = Array(dataset.x[0..<(2 * per)])
        input.withUnsafeBufferPointer { graph.run([$0.baseAddress!]) }
        let kept = graph.value(graph.graph.inputIDs[0]).map(Array.init)
        #expect(kept == input)
    }
}
