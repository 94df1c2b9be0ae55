import Executor
import Testing
import Analysis

/// Dataset in memory: the checked initializer, prefix, fitting to a model input, label validation.
@Suite struct DatasetTests {
    private func sample(count: Int, shape: [Int], labels: [Int]? = nil) throws -> Dataset {
        let size = shape.reduce(1, *)
        return try Dataset(source: "d.npz", sampleShape: shape, x: (0..<(count * size)).map(Float.init), labels: labels)
    }

    @Test func initializerChecksConsistency() throws {
        let data = try sample(count: 3, shape: [2, 2], labels: [0, 1, 2])
        #expect(data.count == 3 && data.sampleSize == 4)
        #expect(try sample(count: 0, shape: [5]).count == 0)
        #expect(try sample(count: 4, shape: []).sampleSize == 1)
        expectDataError(file: "d.npz", "7 values are not a whole number of samples of shape [2]", exact: true) {
            _ = try Dataset(source: "d.npz", sampleShape: [2], x: Array(repeating: 0, count: 7))
        }
        expectDataError(file: "d.npz", "there are 2 labels for 3 samples", exact: true) { _ = try sample(count: 3, shape: [2], labels: [1, 2]) }
        expectDataError(file: "l.idx", "there are 1 labels for 3 samples", exact: true) {
            _ = try Dataset(source: "d.npz", sampleShape: [1], x: [1, 2, 3], labels: [1], labelSource: "l.idx")
        }
        expectDataError(file: "d.npz", "samples have shape [0, 2], which holds no values", exact: true) { _ = try sample(count: 0, shape: [0, 2]) }
    }

    @Test func prefixClampsAndKeepsLabels() throws {
        let data = try sample(count: 4, shape: [2], labels: [5, 6, 7, 8])
        let two = data.prefix(2)
        #expect(two.x == [0, 1, 2, 3])
        #expect(two.labels == [5, 6])
        #expect(two.source == "d.npz")
        #expect(data.prefix(99) == data)
        #expect(data.prefix(-3).count == 0)
        #expect(data.prefix(0).labels == [])
        #expect(try sample(count: 2, shape: [3]).prefix(1).labels == nil)
    }

    @Test func countNeverTrapsOnAHandEditedShape() throws {
        var data = try sample(count: 2, shape: [3])
        data.sampleShape = [0]
        #expect(data.count == 0)
        data.sampleShape = [-1, 3]
        #expect(data.sampleSize == 0 && data.count == 0)
        data.sampleShape = [Int.max, 4]
        #expect(data.count == 0)
    }

    @Test func fittedKeepsMatchingShapes() throws {
        let data = try sample(count: 2, shape: [1, 28, 28])
        #expect(try data.fitted(toInput: "input", dims: [nil, 1, 28, 28]) == data)
        #expect(try data.fitted(toInput: "input", dims: [nil, nil, 28, nil]) == data)
        #expect(try data.fitted(toInput: "input", dims: [1, 1, 28, 28]) == data)  // a fixed batch is the executor's business
        #expect(try data.fitted(toInput: "input", dims: [-1, 1, -1, 28]) == data)  // negative = unknown
    }

    @Test func fittedReshapesFlatData() throws {
        let flat = try sample(count: 2, shape: [784])
        let image = try flat.fitted(toInput: "input", dims: [nil, 1, 28, 28])
        #expect(image.sampleShape == [1, 28, 28])
        #expect(image.x == flat.x)
        let back = try image.fitted(toInput: "x", dims: [nil, 784])
        #expect(back.sampleShape == [784])
        #expect(try image.fitted(toInput: "x", dims: [nil, 28, 28]).sampleShape == [28, 28])
    }

    @Test func fittedRejectsWhatDoesNotFit() throws {
        let flat = try sample(count: 2, shape: [784])
        expectDataError(file: "d.npz", "samples have shape [784] but the model input 'input' expects [N, 1, 28, 27]", exact: true) {
            _ = try flat.fitted(toInput: "input", dims: [nil, 1, 28, 27])
        }
        expectDataError(file: "d.npz", "samples have shape [784] but the model input 'input' expects [N, 3, 28, 28]", exact: true) {
            _ = try flat.fitted(toInput: "input", dims: [nil, 3, 28, 28])
        }
        expectDataError(file: "d.npz", "samples have shape [784] but the model input 'img' expects [1, 1, ?, 28]", exact: true) {
            _ = try flat.fitted(toInput: "img", dims: [1, 1, nil, 28])  // unknown dims: no guessing a reshape
        }
        expectDataError(file: "d.npz", "the model input 's' is a scalar and cannot take a batch of samples", exact: true) {
            _ = try flat.fitted(toInput: "s", dims: [])
        }
        expectDataError(file: "d.npz", "expects [N, 0]") { _ = try flat.fitted(toInput: "z", dims: [nil, 0]) }
    }

    @Test func validateLabels() throws {
        try sample(count: 3, shape: [1], labels: [0, 9, 4]).validateLabels(classes: 10)
        try sample(count: 3, shape: [1]).validateLabels(classes: 10)  // unlabelled: nothing to check
        expectDataError(file: "d.npz", "label 12 of sample 1 is outside 0..<10", exact: true) {
            try sample(count: 3, shape: [1], labels: [0, 12, 4]).validateLabels(classes: 10)
        }
        expectDataError(file: "d.npz", "label -1 of sample 2 is outside 0..<10", exact: true) {
            try sample(count: 3, shape: [1], labels: [0, 1, -1]).validateLabels(classes: 10)
        }
        expectDataError(file: "d.npz", "cannot check labels against a model with 0 classes", exact: true) {
            try sample(count: 1, shape: [1], labels: [0]).validateLabels(classes: 0)
        }
    }
}
