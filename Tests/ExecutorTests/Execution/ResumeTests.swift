import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// Resuming a pass part-way (`CompiledGraph+Resume`): restoring the values live at step k and
/// running steps k... reproduces the full pass exactly, on every sample model and every cut.
@Suite("resume a forward pass at any step")
struct ResumeTests {
    @Test(arguments: ["mlp", "cnn", "vit"])
    func resumedPassEqualsFullPass(_ name: String) throws {
        let (model, dataset) = try BundledSamples.load(name)
        let batch = 5
        let per = dataset.sampleShape.reduce(1, *)
        let graph = try model.compile(batch: batch, sampleShape: dataset.sampleShape)
        let first = Array(dataset.x[0..<(batch * per)])
        let other = Array(dataset.x[(batch * per)..<(2 * batch * per)])
        first.withUnsafeBufferPointer { graph.run([$0.baseAddress!]) }
        let expected = Array(graph.output(0))
        #expect(graph.stepCount >= 3)
        for cut in 0...graph.stepCount {
            // Run the first batch up to the cut, save the boundary, clobber everything with another batch.
            first.withUnsafeBufferPointer { graph.setInputs([$0.baseAddress!]) }
            graph.run(steps: 0..<cut)
            let live = graph.liveValues(atStep: cut)
            let saved = live.map { Array(graph.mutableValue($0)!) }
            other.withUnsafeBufferPointer { graph.run([$0.baseAddress!]) }
            #expect(Array(graph.output(0)) != expected)
            for (id, values) in zip(live, saved) {
                let target = graph.mutableValue(id)!
                for i in 0..<values.count { target[i] = values[i] }
            }
            graph.run(steps: cut..<graph.stepCount)
            #expect(Array(graph.output(0)) == expected, "cut at step \(cut) of \(graph.stepCount)")
        }
    }

    @Test func stepsOfQuantizableLayersExist() throws {
        let model = try Model.load(path: BundledSamples.path("sample-models/cnn.onnx"))
        let graph = try model.compile(batch: 2, sampleShape: [1, 28, 28])
        let steps = model.layers.map { graph.stepIndex(ofNode: $0.nodeIndex) }
        #expect(steps.allSatisfy { $0 != nil })
        #expect(steps.compactMap { $0 } == steps.compactMap { $0 }.sorted())
        #expect(graph.liveValues(atStep: 0) == graph.graph.inputIDs)
    }
}
