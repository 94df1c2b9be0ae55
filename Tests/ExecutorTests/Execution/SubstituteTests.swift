import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// `CompiledGraph.substitute` with a sequence of buffers that reuse one address (the allocator
/// hands a freed block out again): each pass must use the values in the buffer now, not weights
/// packed from an earlier buffer at the same address.
@Suite("substitute weights")
struct SubstituteTests {
    static let root = BundledSamples.root

    @Test(arguments: ["mlp", "cnn", "vit"])
    func sameAddressNewValues(_ name: String) throws {
        let model = try Model.load(path: Self.root.appendingPathComponent("sample-models/\(name).onnx").path)
        let graph = try model.compile(batch: 4, sampleShape: [1, 28, 28])
        let input = [Float](repeating: 0.25, count: graph.inputTypes[0].count)
        let layer = model.layers[model.layers.count / 2]
        let original = try #require(model.graph.constants[layer.weight]).values
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: original.count)
        defer { buffer.deallocate() }
        var outputs: [[Float]] = []
        for scale: Float in [1, 0, 1] {
            // The same address each time, with other contents.
            for i in 0..<original.count { buffer[i] = original[i] * scale }
            graph.substitute(layer.weight, with: buffer)
            input.withUnsafeBufferPointer { graph.run([$0.baseAddress!]) }
            outputs.append(Array(graph.output(0)))
        }
        #expect(outputs[0] != outputs[1], "zeroed weights of \(layer.name) must change the output")
        #expect(outputs[0] == outputs[2])
        graph.substitute(layer.weight, with: nil)
        input.withUnsafeBufferPointer { graph.run([$0.baseAddress!]) }
        #expect(Array(graph.output(0)) == outputs[0])
    }
}
