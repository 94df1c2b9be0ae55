import Analysis
import Executor
import Foundation
import TestSupport
import Testing

/// The older op forms exporters still write (opsets 7-12: Pad/Clip/Dropout/Slice attributes, axes
/// attributes of Squeeze/Unsqueeze/Reduce*/Split, Softmax's 2-D coercion, BatchNormalization's
/// `spatial`, TopK's `k` attribute, ...) and the normalisations and activations the ONNX 1.12 node
/// tests lack (GroupNormalization 18 and 21, LpNormalization, Mish), one small graph each, against
/// ONNX Runtime's outputs (tools/make_opset_fixtures.py). Every graph input is bound at run time;
/// outputs must have ORT's shape and element type, equal values for integer and bool outputs, and
/// float values within 1e-5 of the largest |value| of that output. (Dropout's mask before opset 12 is
/// ONNX's reference, all kept, in ORT's element type: ORT writes zeros there.)
@Suite("older opset forms vs ONNX Runtime")
struct OpsetFixtureTests {
    static let directory = BundledSamples.path("Tests/Fixtures/exporters/opsets")

    /// Fixture names (without extension), sorted.
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        .filter { $0.hasSuffix(".onnx") }.map { String($0.dropLast(5)) }.sorted()

    @Test("the fixture set is there")
    func fixturesExist() {
        #expect(Self.names.count >= 100, "only \(Self.names.count) fixtures in \(Self.directory)")
    }

    @Test("qscope equals ONNX Runtime", arguments: names)
    func matchesOnnxRuntime(_ name: String) throws {
        let raw = try ONNXLoader.load(path: "\(Self.directory)/\(name).onnx")
        let (arrays, _) = try NPZ.read(path: "\(Self.directory)/\(name).npz", keys: nil)
        let inputs = try raw.inputs.indices.map { i -> Tensor in
            let array = try #require(arrays["in_\(i)"], "in_\(i) is missing")
            return Tensor(shape: array.shape, values: array.floats())
        }
        let model = try Model(path: "\(name).onnx", raw: raw)
        let compiled = try CompiledGraph(graph: model.graph, inputShapes: inputs.map(\.shape))
        let buffers = inputs.map { tensor -> UnsafeMutablePointer<Float> in
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(tensor.count, 1))
            tensor.values.withUnsafeBufferPointer { buffer.initialize(from: $0.baseAddress!, count: $0.count) }
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        compiled.run(buffers.map { UnsafePointer($0) })
        #expect(compiled.outputTypes.count == raw.outputs.count)
        for i in compiled.outputTypes.indices {
            let expected = try #require(arrays["out_\(i)"], "out_\(i) is missing")
            let type = compiled.outputTypes[i]
            #expect(type.shape == expected.shape, "output \(i): shape \(type.shape), ONNX Runtime \(expected.shape)")
            #expect(type.dataType == expected.dtype.dataType, "output \(i): type \(type.dataType), ONNX Runtime \(expected.dtype.dataType)")
            guard type.shape == expected.shape else { continue }
            let got = Array(compiled.output(i)), want = expected.floats()
            if expected.dtype.isFloatingPoint {
                let scale = want.reduce(Float(0)) { max($0, abs($1)) }
                let worst = zip(got, want).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
                #expect(worst <= 1e-5 * max(scale, 1e-6), "output \(i): max |qscope − ORT| = \(worst), largest |value| \(scale)")
            } else {
                #expect(got == want, "output \(i): \(got) vs ONNX Runtime \(want)")
            }
        }
    }
}
