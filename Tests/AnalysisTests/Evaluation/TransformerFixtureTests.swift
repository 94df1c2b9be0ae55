import Analysis
import Executor
import Foundation
import TestSupport
import Testing

/// The tiny random-weight Hugging Face fixtures (BERT with mean pooling and L2 normalisation in the
/// graph, BERT with a 3-class head, GPT-2 with [N, T, 1000] logits), exported by torch.onnx.export
/// and run by ONNX Runtime (`tools/make_transformer_fixtures.py`): qscope's outputs equal ORT's, and
/// its fidelity metrics of weight-only int8 and int4 equal the script's, computed in numpy on ORT's
/// outputs of the same fake-quantized weights.
@Suite struct TransformerFixtureTests {
    static let directory = "Tests/Fixtures/transformers/"
    static func path(_ name: String) -> String { BundledSamples.path(directory + name) }

    struct Reference {
        var models: [String: [String: Any]]
        static func load() throws -> Reference {
            let data = try Data(contentsOf: URL(fileURLWithPath: TransformerFixtureTests.path("tiny-reference.json")))
            let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            return Reference(models: try #require(root["models"] as? [String: [String: Any]]))
        }
    }

    static func load(_ model: String, labelled: Bool = false) throws -> (Model, Dataset) {
        let loaded = try Model.load(path: path("\(model).onnx"))
        let data = try DatasetLoader.load(path: path(labelled ? "tiny-text-labelled.npz" : "tiny-text.npz"))
        return (loaded, try data.fitted(to: loaded))
    }

    @Test("FP32 outputs equal ONNX Runtime's within 1e-4 of the largest value", arguments: [
        ("tiny-bert", "tiny-bert.embedding.npy"), ("tiny-bert-cls", "tiny-bert-cls.logits.npy"),
    ])
    func outputsMatchOnnxRuntime(_ model: String, _ file: String) throws {
        let (loaded, data) = try Self.load(model)
        let result = try Evaluator(model: loaded, sampleShapes: data.sampleShapes).evaluate(data, batch: 16, keepOutputs: true)
        let expected = try NPY.read(path: Self.path(file))
        let ours = try #require(result.outputs)
        #expect([result.samples] + result.layout.sampleShape == expected.shape)
        let reference = expected.floats()
        let scale = reference.reduce(0) { max($0, abs($1)) }
        let worst = zip(ours, reference).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(worst <= 1e-4 * scale, "max |qscope - ORT| = \(worst), largest |value| \(scale)")
    }

    @Test func gpt2LogitsMatchOnnxRuntimeAndTheirTop1IsORTs() throws {
        let (loaded, data) = try Self.load("tiny-gpt2")
        let result = try Evaluator(model: loaded, sampleShapes: data.sampleShapes).evaluate(data, batch: 16, keepOutputs: true)
        #expect(result.layout.sampleShape == [32, 1000])
        #expect(result.layout.kind == .logits)
        let ours = try #require(result.outputs)
        let first4 = try NPY.read(path: Self.path("tiny-gpt2.logits.first4.npy"))
        #expect(first4.shape == [4, 32, 1000])
        let reference = first4.floats()
        let scale = reference.reduce(0) { max($0, abs($1)) }
        let worst = zip(ours.prefix(reference.count), reference).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(worst <= 1e-4 * scale, "max |qscope - ORT| = \(worst), largest |value| \(scale)")
        let top1 = try NPY.read(path: Self.path("tiny-gpt2.top1.npy")).integers()
        var differing = 0
        for row in 0..<(64 * 32) {
            let values = ours[(row * 1000)..<((row + 1) * 1000)]
            let best = values.indices.max { values[$0] < values[$1] }! - row * 1000
            if best != top1[row] { differing += 1 }
        }
        #expect(differing == 0, "\(differing) of \(64 * 32) positions have another top-1 than ORT")
    }

    @Test("weight-only int8 and int4: every metric equals the numpy reference on ORT's outputs", arguments: [
        ("tiny-bert", "int8"), ("tiny-bert", "int4"), ("tiny-bert-cls", "int8"), ("tiny-bert-cls", "int4"),
        ("tiny-gpt2", "int8"), ("tiny-gpt2", "int4"),
    ])
    func fidelityMetricsMatchTheReference(_ model: String, _ spec: String) throws {
        let reference = try Reference.load()
        let entry = try #require(reference.models[model])
        let quantized = try #require((entry["quantized"] as? [String: [String: Any]])?[spec])
        let labelled = model == "tiny-bert-cls"
        let (loaded, data) = try Self.load(model, labelled: labelled)
        let weights = try QuantizedModelWeights(model: loaded, spec: QuantizerSpec(parsing: spec), layers: nil)
        let scored = try ScoredEvaluation.evaluate(model: loaded, dataset: data, batch: 16, requested: nil,
                                                   evaluated: (loaded, weights), keepOutputs: false)
        let m = scored.metrics
        let positions = Double(data.count * scored.scoring.layout.positions)
        func expected(_ key: String) throws -> Double { try #require(quantized[key] as? Double, "\(key) missing") }
        // One position's top-1 may flip on a rounding-level tie; everything else is float64 sums.
        #expect(abs(try #require(m.agreement) - (try expected("agreement"))) <= 1.5 / positions)
        #expect(abs(m.cosineMean - (try expected("cosine_mean"))) <= 1e-5)
        #expect(abs(m.cosineMin - (try expected("cosine_min"))) <= 1e-4)
        #expect(abs(m.sqnrDB - (try expected("sqnr_db"))) <= 0.02)
        if let kl = quantized["kl"] as? Double {
            #expect(abs(try #require(m.kl) - kl) <= 1e-3 * kl + 1e-7)
        } else {
            #expect(m.kl == nil, "an embedding has no KL")
        }
        if let accuracy = quantized["accuracy"] as? Double {
            #expect(m.accuracy == accuracy)
            #expect(scored.scoring.headline == .accuracy)
            #expect(scored.referenceAccuracy == entry["fp32_accuracy"] as? Double)
        } else {
            #expect(m.accuracy == nil)
            #expect(scored.scoring.headline == (model == "tiny-gpt2" ? .agreement : .cosine))
        }
    }

    @Test func anEmbeddingIsTakenAsSuchAndItsDefaultMetricIsCosine() throws {
        let (loaded, data) = try Self.load("tiny-bert")
        let scored = try ScoredEvaluation.evaluate(model: loaded, dataset: data, batch: 64, requested: nil, evaluated: nil,
                                                   keepOutputs: false)
        #expect(scored.scoring.layout.kind == .embedding)
        #expect(scored.scoring.layout.kindReason == "named 'embedding'")
        #expect(scored.scoring.headline == .cosine)
        #expect(scored.metrics.cosineMean == 1 && scored.metrics.sqnrDB == .infinity)
        let error = #expect(throws: QScopeError.self) {
            _ = try ScoredEvaluation.evaluate(model: loaded, dataset: data, batch: 64, requested: .accuracy, evaluated: nil,
                                              keepOutputs: false)
        }
        #expect(error?.message.contains("accuracy needs labels") == true)
    }
}
