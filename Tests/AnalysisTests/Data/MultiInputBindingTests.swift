import Analysis
import Executor
import Foundation
import TestSupport
import Testing

/// Binding an .npz of named arrays to a two-input transformer (int64 input_ids and attention_mask
/// [N, T]): every array found by name, kinds and ranks checked, the sequence length bound once.
@Suite struct MultiInputBindingTests {
    static let modelPath = BundledSamples.path("Tests/Fixtures/transformers/tiny-bert.onnx")
    static let dataPath = BundledSamples.path("Tests/Fixtures/transformers/tiny-text.npz")

    static func load() throws -> (Model, Dataset) {
        (try Model.load(path: modelPath), try DatasetLoader.load(path: dataPath))
    }

    @Test func arraysAreBoundByNameInTheModelsInputOrder() throws {
        var (model, data) = try Self.load()
        data.arrays.reverse()
        let bound = try data.fitted(to: model)
        #expect(bound.arrays.map(\.name) == ["input_ids", "attention_mask"])
        #expect(bound.sampleShapes == [[32], [32]])
        #expect(bound.count == 64)
        #expect(bound.arrays.allSatisfy { $0.dataType == .int64 })
        // Token ids are exact whole numbers, the mask is 0/1 with the first position kept.
        #expect(bound.arrays[0].values.allSatisfy { $0 >= 0 && $0 < 1000 && $0 == $0.rounded() })
        #expect(bound.arrays[1].values.allSatisfy { $0 == 0 || $0 == 1 })
    }

    @Test func aMissingArrayListsTheInputsAndTheArrays() throws {
        var (model, data) = try Self.load()
        data.arrays.removeAll { $0.name == "attention_mask" }
        expectDataError(file: Self.dataPath, "no array for the input 'attention_mask'; the model's inputs: input_ids int64 [batch, sequence], attention_mask int64 [batch, sequence]; the data holds: input_ids int64 [64, 32]", exact: true) {
            _ = try data.fitted(to: model)
        }
    }

    @Test func floatsDoNotFeedAnIntegerInput() throws {
        var (model, data) = try Self.load()
        data.arrays[0].dataType = .float32
        expectDataError(file: Self.dataPath, "'input_ids' holds float32 values, the input takes int64") { _ = try data.fitted(to: model) }
    }

    @Test func theRankMustBeTheInputs() throws {
        var (model, data) = try Self.load()
        data.arrays[1].sampleShape = [4, 8]
        expectDataError(file: Self.dataPath, "'attention_mask' has rank 3, the input has rank 2") { _ = try data.fitted(to: model) }
    }

    @Test func aSymbolicDimensionTakesOneValueAcrossInputs() throws {
        var (model, data) = try Self.load()
        data.arrays[1].sampleShape = [16]
        data.arrays[1].values = Array(data.arrays[1].values.prefix(64 * 16))
        expectDataError(file: Self.dataPath, "'attention_mask' has sequence = 16 along dim 1, 'input_ids' has sequence = 32") {
            _ = try data.fitted(to: model)
        }
    }
}

extension MultiInputBindingTests {
    @Test func aTokenIdBeyondTheVocabularyIsReportedBySampleAndPosition() throws {
        var (model, data) = try Self.load()
        let ids = try #require(data.arrays.firstIndex { $0.name == "input_ids" })
        data.arrays[ids].values[3 * 32 + 7] = 1000
        expectDataError(file: Self.dataPath, "input_ids holds 1000 at sample 3, position 7; Gather '") { _ = try data.fitted(to: model) }
        data.arrays[ids].values[3 * 32 + 7] = -1001
        expectDataError(file: Self.dataPath, "input_ids holds -1001 at sample 3, position 7") { _ = try data.fitted(to: model) }
        data.arrays[ids].values[3 * 32 + 7] = -1000  // negative ids count from the end
        _ = try data.fitted(to: model)
    }
}
