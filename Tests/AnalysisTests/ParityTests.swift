import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// Logits equal ONNX Runtime's on every sample model and on a ViT exported from torch's own
/// `nn.TransformerEncoder` (fixtures by `tools/make_parity_fixtures.py`: ORT with graph optimisations
/// off, all 2,000 committed samples). Criterion: max |ours − ORT| ≤ 1e-4 · max |ORT| over all logits,
/// and the same top-1 prediction for every sample (so the same accuracy).
@Suite("parity with ONNX Runtime")
struct ParityTests {
    struct Fixture: Decodable, Sendable, CustomStringConvertible {
        var name: String
        var file: String
        var logits: String
        var correct: Int
        var samples: Int
        var description: String { name }
    }

    struct Index: Decodable {
        struct DataFile: Decodable { var file: String }
        var models: [Fixture]
    }

    static let root = BundledSamples.root
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }
    static let dataPath = path("sample-models/fashion-mnist-test-2000.npz")

    static let fixtures: [Fixture] = {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path("Tests/Fixtures/parity/parity.json"))),
              let index = try? JSONDecoder().decode(Index.self, from: data) else { return [] }
        return index.models
    }()

    @Test("the fixture index lists the three sample models and the nn.TransformerEncoder ViT")
    func fixturesPresent() {
        #expect(Set(Self.fixtures.map(\.name)) == ["mlp", "cnn", "vit", "vit_encoder"])
    }

    @Test("logits within 1e-4 relative max-abs of ONNX Runtime, identical predictions", arguments: fixtures)
    func logitsMatch(_ fixture: Fixture) throws {
        let model = try Model.load(path: Self.path(fixture.file))
        let input = try #require(model.graph.inputs.first)
        let dataset = try DatasetLoader.load(path: Self.dataPath).fitted(toInput: input.name, dims: input.dims)
        let reference = try NPY.read(path: Self.path(fixture.logits))
        let expected = reference.floats()
        #expect(reference.shape == [fixture.samples, 10])

        let result = try Evaluator(model: model, sampleShapes: dataset.sampleShapes)
            .evaluate(dataset, batch: 256, keepOutputs: true)
        let logits = try #require(result.outputs)
        let scale = expected.reduce(0) { max($0, abs($1)) }
        let worst = zip(logits, expected).reduce(0) { max($0, abs($1.0 - $1.1)) }
        print("\(fixture.name): max |ours - ORT| = \(worst), relative to max |logit| \(worst / scale)")
        #expect(worst <= 1e-4 * scale, "max abs diff \(worst) vs scale \(scale)")
        #expect(result.correct == fixture.correct)
        for sample in 0..<fixture.samples {
            let row = expected[(sample * 10)..<(sample * 10 + 10)]
            let best = row.indices.max { row[$0] < row[$1] }! - sample * 10
            let ours = logits[(sample * 10)..<(sample * 10 + 10)]
            let predicted = ours.indices.max { ours[$0] < ours[$1] }! - sample * 10
            if predicted != best {
                Issue.record("sample \(sample): predicted \(predicted), ORT \(best)")
                break
            }
        }
    }

    @Test("batch size does not change the logits (1, 7 and 256 with a partial last batch)", arguments: fixtures)
    func batchInvariance(_ fixture: Fixture) throws {
        let model = try Model.load(path: Self.path(fixture.file))
        let input = try #require(model.graph.inputs.first)
        let dataset = try DatasetLoader.load(path: Self.dataPath).fitted(toInput: input.name, dims: input.dims).prefix(20)
        let evaluator = Evaluator(model: model, sampleShapes: dataset.sampleShapes)
        let whole = try #require(try evaluator.evaluate(dataset, batch: 256, keepOutputs: true).outputs)
        for batch in [1, 7] {
            let logits = try #require(try evaluator.evaluate(dataset, batch: batch, keepOutputs: true).outputs)
            let worst = zip(logits, whole).reduce(0) { max($0, abs($1.0 - $1.1)) }
            #expect(worst <= 1e-5, "batch \(batch): max diff \(worst)")
        }
    }
}
