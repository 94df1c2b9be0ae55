import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// The executor's Conv -> MaxPool fusion (`CompiledGraph.fuseConvMaxPool`): it fires on the sample
/// CNN's stem, gives bit-identical logits, keeps the quantizable layers' steps, and does not fire
/// when the convolution's output is needed elsewhere (a graph output, a fake-quant node between the
/// two) or when every value is retained (reverse mode, calibration).
@Suite("Conv + MaxPool fusion in the executor")
struct ConvMaxPoolFusionTests {
    static func cnn() throws -> (model: Model, x: [Float], batch: Int) {
        let (model, dataset) = try BundledSamples.load("cnn")
        let batch = 6
        return (model, Array(dataset.x[0..<(batch * 784)]), batch)
    }

    /// Index of the MaxPool node and of the Conv that feeds it.
    static func poolAndConv(_ graph: Graph) -> (pool: Int, conv: Int) {
        let pool = graph.nodes.firstIndex { $0.opType == "MaxPool" }!
        let conv = graph.nodes.firstIndex { $0.outputs.contains(graph.nodes[pool].inputs[0]!) }!
        return (pool, conv)
    }

    static func logits(_ graph: CompiledGraph, _ x: [Float]) -> [Float] {
        x.withUnsafeBufferPointer { graph.run([$0.baseAddress!]) }
        return Array(graph.output(0))
    }

    @Test func firesOnTheStemWithIdenticalLogits() throws {
        let (model, x, batch) = try Self.cnn()
        let (pool, conv) = Self.poolAndConv(model.graph)
        #expect(model.graph.nodes[conv].opType == "Conv")
        let fused = try model.compile(batch: batch, sampleShape: [1, 28, 28])
        let retained = try model.compile(batch: batch, sampleShape: [1, 28, 28], retainAll: true)
        #expect(fused.stepIndex(ofNode: pool) == nil)
        #expect(fused.stepIndex(ofNode: conv) != nil)
        #expect(retained.stepIndex(ofNode: pool) != nil)
        #expect(fused.stepCount == retained.stepCount - 1)
        // Every quantizable layer keeps a step (the prefix cache resumes there).
        #expect(model.layers.allSatisfy { fused.stepIndex(ofNode: $0.nodeIndex) != nil })
        // The same kernels run, so the logits are the same bits.
        #expect(Self.logits(fused, x) == Self.logits(retained, x))
    }

    @Test func notWhenTheConvOutputIsAGraphOutput() throws {
        var (model, x, batch) = try Self.cnn()
        let (pool, conv) = Self.poolAndConv(model.graph)
        let y = model.graph.nodes[conv].outputs[0]
        model.graph.outputIDs.append(y)
        model.graph.outputs.append(ValueSpec(name: model.graph.valueNames[y], dataType: .float32, dims: [nil, 32, 28, 28]))
        let compiled = try model.compile(batch: batch, sampleShape: [1, 28, 28])
        #expect(compiled.stepIndex(ofNode: pool) != nil)
        let retained = try model.compile(batch: batch, sampleShape: [1, 28, 28], retainAll: true)
        #expect(Self.logits(compiled, x) == Self.logits(retained, x))
        #expect(Array(compiled.output(1)) == Array(retained.output(1)))
    }

    @Test func notAcrossAFakeQuantNode() throws {
        var (model, x, batch) = try Self.cnn()
        let (pool, conv) = Self.poolAndConv(model.graph)
        let y = model.graph.nodes[conv].outputs[0]
        let q = model.graph.addValue(named: "stem_fakequant")
        let fakeQuant = Node(name: "stem_fakequant", opType: "QScopeFakeQuant", inputs: [y], outputs: [q],
                             attributes: ["bits": .int(8), "affine": .int(1), "scale": .float(0.05), "zero_point": .int(0)])
        model.graph.nodes[pool].inputs[0] = q
        model.graph.nodes.insert(fakeQuant, at: pool)
        let compiled = try model.compile(batch: batch, sampleShape: [1, 28, 28])
        let retained = try model.compile(batch: batch, sampleShape: [1, 28, 28], retainAll: true)
        #expect(compiled.stepIndex(ofNode: pool + 1) != nil, "the MaxPool (now after the fake-quant node) runs")
        #expect(compiled.stepCount == retained.stepCount)
        #expect(Self.logits(compiled, x) == Self.logits(retained, x))
    }
}
