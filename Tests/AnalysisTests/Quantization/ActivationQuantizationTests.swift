import Analysis
import Executor
import Foundation
import Kernels
import TestSupport
import Testing

@Suite("activation fake-quant", .serialized)
struct ActivationQuantizationTests {
    static func load(_ name: String) throws -> (Model, Dataset) { try BundledSamples.load(name) }

    @Test("spec grammar: intB[:asym][:clip=...] only")
    func grammar() throws {
        #expect(try ActivationSpec(parsing: "int8:asym:clip=p99.9").description == "int8:asym:clip=p99.9")
        for bad in ["fp8", "int8:tensor", "int4:group=8", "int8:hawq", "int1", "x"] {
            #expect(throws: QScopeError.self) { try ActivationSpec(parsing: bad) }
        }
    }

    @Test("calibrated scale of the MLP's first layer input is max|x| over the first N samples / 127")
    func calibration() throws {
        let (model, dataset) = try Self.load("mlp")
        let calibration = dataset.prefix(300)
        let (quantized, calibrated) = try ActivationQuantization.apply(ActivationSpec(bits: 8), to: model,
                                                                      calibration: calibration, batch: 128)
        #expect(calibrated.count == 3)
        let amax = calibration.x.map { abs($0) }.max()!
        #expect(calibrated[0].scale == amax / 127)
        #expect(quantized.graph.nodes.filter { $0.opType == "QScopeFakeQuant" }.count == 3)
        #expect(quantized.layers.map(\.name) == model.layers.map(\.name))
        // The fake-quantized first input is what the formula gives, element by element.
        let graph = try quantized.compile(batch: 4, sampleShape: dataset.sampleShape, retainAll: true)
        dataset.x.withUnsafeBufferPointer { graph.run([$0.baseAddress!]) }
        let fq = try #require(quantized.graph.nodes.first { $0.opType == "QScopeFakeQuant" })
        let out = try #require(graph.value(fq.outputs[0]))
        let input = try #require(graph.value(fq.inputs[0]!))
        let s = calibrated[0].scale
        for i in 0..<out.count { #expect(out[i] == min(max((input[i] / s).rounded(.toNearestOrEven), -127), 127) * s) }
    }

    @Test("ViT: one fake-quant per distinct layer input (q, k, v share theirs); int16 keeps FP32 accuracy")
    func vit() throws {
        let (model, full) = try Self.load("vit")
        let dataset = full.prefix(500)
        let (quantized, calibrated) = try ActivationQuantization.apply(ActivationSpec(bits: 16), to: model,
                                                                      calibration: dataset.prefix(64))
        #expect(calibrated.count < model.layers.count)
        #expect(calibrated.count == Set(model.layers.map { model.graph.nodes[$0.nodeIndex].inputs[0] }).count)
        let fp32 = try Evaluator(model: model, sampleShapes: dataset.sampleShapes).evaluate(dataset)
        let a16 = try Evaluator(model: quantized, sampleShapes: dataset.sampleShapes).evaluate(dataset)
        #expect(abs((a16.correct ?? 0) - (fp32.correct ?? 0)) <= 1)
        let (q2, _) = try ActivationQuantization.apply(ActivationSpec(bits: 2), to: model, calibration: dataset.prefix(64))
        let a2 = try Evaluator(model: q2, sampleShapes: dataset.sampleShapes).evaluate(dataset)
        #expect((a2.correct ?? 0) < (fp32.correct ?? 0) - 50)  // 2-bit activations must hurt: the op runs
    }
}
