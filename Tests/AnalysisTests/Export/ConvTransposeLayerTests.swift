import Executor
import Foundation
import TestSupport
import Testing
import Analysis
import SwiftProtobuf

/// A ConvTranspose with a constant weight is a quantizable layer: weight [Cin, Cout/group, kH, kW]
/// quantized per output channel along axis 1, its MACs counted per input element, and its QDQ export
/// a DequantizeLinear with axis=1. The model (Conv -> Relu -> grouped ConvTranspose -> Flatten ->
/// MatMul) and its ONNX Runtime logits come from tools/make_resize_fixtures.py.
@Suite("ConvTranspose as a quantizable layer")
struct ConvTransposeLayerTests {
    static let directory = BundledSamples.root.appendingPathComponent("Tests/Fixtures/exporters/ops")
    static var modelPath: String { directory.appendingPathComponent("convtranspose_layer.onnx").path }

    static func forward(_ model: Model, _ input: [Float]) throws -> [Float] {
        let compiled = try model.compile(batch: 2, sampleShape: [2, 8, 8])
        input.withUnsafeBufferPointer { compiled.run([$0.baseAddress!]) }
        return Array(compiled.output(0))
    }

    static func input() throws -> [Float] {
        try NPY.read(path: directory.appendingPathComponent("convtranspose_layer_input.npy").path).floats()
    }

    @Test("found as a layer with axis 1; FP32 logits match ONNX Runtime; MACs per input element")
    func layerAndParity() throws {
        let model = try Model.load(path: Self.modelPath)
        #expect(model.layers.map(\.opType) == ["Conv", "ConvTranspose", "MatMul"])
        let layer = model.layers[1]
        #expect(layer.name == "up" && layer.outputAxis == 1 && layer.weightShape == [4, 3, 3, 3] && layer.bias != nil)
        let expected = try NPY.read(path: Self.directory.appendingPathComponent("convtranspose_layer_logits.npy").path).floats()
        let got = try Self.forward(model, try Self.input())
        #expect(got.count == expected.count)
        let error = zip(got, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(error <= 1e-4 * max(1, expected.map(abs).max()!), "max error \(error) against ONNX Runtime")
        // 4 x 4 x 4 input elements of the ConvTranspose, each meeting 3 x 3 x 3 weights.
        let macs = try model.macsPerSample(sampleShapes: [[2, 8, 8]])
        #expect(macs[1] == 64 * 27, "\(macs)")
        #expect(try model.compile(batch: 1, sampleShape: [2, 8, 8]).multiplyAccumulates == macs.reduce(0, +))
    }

    /// int8 per channel along axis 1 against a reference written here: channel c's scale is
    /// max |W[:, c]| / 127 over all input channels and taps.
    @Test("fake quantization runs per channel along axis 1")
    func fakeQuantAlongAxis1() throws {
        let model = try Model.load(path: Self.modelPath)
        let layer = model.layers[1]
        let weight = model.graph.constants[layer.weight]!
        let quantized = try QuantizerSpec.int(8).quantize(weight: weight, outputAxis: layer.outputAxis).values
        let (cin, perGroup, taps) = (4, 3, 9)
        var worst: Float = 0
        for c in 0..<perGroup {
            var maximum: Float = 0
            for i in 0..<cin { for t in 0..<taps { maximum = max(maximum, abs(weight.values[(i * perGroup + c) * taps + t])) } }
            let scale = maximum / 127
            for i in 0..<cin { for t in 0..<taps {
                let k = (i * perGroup + c) * taps + t
                let reference = (weight.values[k] / scale).rounded() * scale
                worst = max(worst, abs(reference - quantized[k]) / scale)
            } }
        }
        #expect(worst < 1e-3, "off by \(worst) of a step")
        // The three channels have different ranges (the fixture widens channel 1), so per-tensor
        // quantization would differ: the test cannot pass with axis 0 or one scale.
        let wrongAxis = try QuantizerSpec.int(8).quantize(weight: weight, outputAxis: 0).values
        #expect(wrongAxis != quantized)
    }

    @Test("QDQ export: DequantizeLinear with axis 1; the re-loaded file computes the fake-quantized model")
    func qdqExport() throws {
        let model = try Model.load(path: Self.modelPath)
        let names = model.layers.map(\.name)
        let plan = Plan(layerNames: names, choices: names.map { $0 == "up" ? LayerChoice(weights: .int(4)) : .float })
        let output = try QDQExporter.export(try ExportInput(model: model, plan: plan, calibration: nil))
        let proto = try Onnx_ModelProto(serializedBytes: output.bytes)
        let node = try #require(proto.graph.node.first { $0.opType == "ConvTranspose" })
        let dq = try #require(proto.graph.node.first { $0.output.first == node.input[1] })
        #expect(dq.opType == "DequantizeLinear")
        #expect(dq.attribute.first { $0.name == "axis" }?.i == 1)
        let scale = try #require(proto.graph.initializer.first { $0.name == dq.input[1] })
        #expect(scale.dims == [3], "one scale per output channel of a group")

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-convtranspose-\(getpid()).onnx").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(output.bytes).write(to: URL(fileURLWithPath: path))
        let reloaded = try Model.load(path: path)
        #expect(reloaded.layers.map(\.name) == names)
        // Reference: the original graph with the fake-quantized weight substituted.
        var graph = model.graph
        let layer = model.layers[1]
        let quantized = try QuantizerSpec.int(4).quantize(weight: graph.constants[layer.weight]!, outputAxis: 1).values
        graph.constants[layer.weight] = Tensor(shape: layer.weightShape, values: quantized)
        let reference = try Self.forward(try Model(path: "reference", raw: graph), try Self.input())
        let exported = try Self.forward(reloaded, try Self.input())
        let fp32 = try Self.forward(model, try Self.input())
        let error = zip(exported, reference).map { abs($0 - $1) }.max()!
        #expect(error <= 1e-5 * max(1, reference.map(abs).max()!), "export vs fake-quant: \(error)")
        #expect(zip(fp32, reference).contains { abs($0 - $1) > 1e-3 }, "int4 must change the logits, or the test proves nothing")
    }
}
