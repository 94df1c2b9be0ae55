import Executor
import Foundation
import Testing
import Analysis

/// DatasetLoader.load on IDX files: tiny fixtures (plain and gzip'ed, labels found beside the images)
/// and, when Debian's dataset-fashion-mnist is installed, the real Fashion-MNIST test set.
@Suite struct IDXLoadingTests {
    private let pixels: [Int] = (0..<60).map { $0 * 17 % 256 }

    @Test(arguments: ["tiny-images-idx3-ubyte", "tinygz-images-idx3-ubyte.gz"])
    func tinyImagesWithSiblingLabels(name: String) throws {
        let raw = try DatasetLoader.load(path: DataFixtures.path(name), preprocessing: Preprocessing(scale: 1, mean: 0, std: 1))
        #expect(raw.sampleShape == [1, 4, 5])
        #expect(raw.count == 3)
        #expect(raw.x == pixels.map(Float.init))
        #expect(raw.labels == [7, 0, 9])
        let labels = name.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
        #expect(raw.labelSource == DataFixtures.path(labels))
    }

    @Test func preprocessingIsApplied() throws {
        let path = DataFixtures.path("tiny-images-idx3-ubyte")
        let scaled = try DatasetLoader.load(path: path)
        #expect(scaled.x == pixels.map { Float($0) * (1 / 255 as Float) })
        #expect(scaled.x.max() == 1 && scaled.x.min() == 0)
        let centred = try DatasetLoader.load(path: path, preprocessing: Preprocessing(scale: 1, mean: 127.5, std: 127.5))
        #expect(centred.x == pixels.map { (Float($0) - 127.5) / 127.5 })
        expectDataError(file: path, "invalid preprocessing") {
            _ = try DatasetLoader.load(path: path, preprocessing: Preprocessing(std: 0))
        }
    }

    @Test func labelsAreOptionalOrExplicit() throws {
        let bare = try DatasetLoader.load(path: DataFixtures.path("nolabels-images-idx3-ubyte"))
        #expect(bare.labels == nil)
        #expect(bare.labelSource == nil)
        let explicit = try DatasetLoader.load(path: DataFixtures.path("nolabels-images-idx3-ubyte"),
                                              labels: DataFixtures.path("tinygz-labels-idx1-ubyte.gz"))
        #expect(explicit.labels == [7, 0, 9])
        #expect(explicit.labelSource == DataFixtures.path("tinygz-labels-idx1-ubyte.gz"))
        // An explicit labels file wins over the sibling, and its count is checked.
        expectDataError(file: DataFixtures.path("mismatch-labels-idx1-ubyte"), "has 2 labels but \(DataFixtures.path("tiny-images-idx3-ubyte")) has 3 samples", exact: true) {
            _ = try DatasetLoader.load(path: DataFixtures.path("tiny-images-idx3-ubyte"), labels: DataFixtures.path("mismatch-labels-idx1-ubyte"))
        }
    }

    @Test func idxErrors() {
        let images = DataFixtures.path("mismatch-images-idx3-ubyte")
        expectDataError(file: DataFixtures.path("mismatch-labels-idx1-ubyte"), "has 2 labels but the images file \(images) has 3 images", exact: true) {
            _ = try DatasetLoader.load(path: images)
        }
        expectDataError(file: DataFixtures.path("truncated-images-idx3-ubyte"), "truncated: expected 60 bytes of data, found 59", exact: true) {
            _ = try DatasetLoader.load(path: DataFixtures.path("truncated-images-idx3-ubyte"))
        }
        expectDataError(file: DataFixtures.path("int32-images-idx3-ubyte"), "unsupported IDX file: element type 0xC with 3 dimensions; qscope reads uint8 (0x08) images (magic 00 00 08 03)", exact: true) {
            _ = try DatasetLoader.load(path: DataFixtures.path("int32-images-idx3-ubyte"))
        }
        expectDataError(file: DataFixtures.path("tiny-labels-idx1-ubyte"), "is an IDX labels file: give the images file") {
            _ = try DatasetLoader.load(path: DataFixtures.path("tiny-labels-idx1-ubyte"))
        }
        expectDataError(file: DataFixtures.path("all_flags.gz"), "not an IDX images (magic 00 00 08 03) file", exact: true) {
            _ = try DatasetLoader.load(path: DataFixtures.path("all_flags.gz"))
        }
        expectDataError(file: DataFixtures.path("bad_crc.gz"), "CRC-32 mismatch") {
            _ = try DatasetLoader.load(path: DataFixtures.path("bad_crc.gz"))
        }
    }

    @Test(.enabled(if: DataFixtures.fashionInstalled, "needs Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)"))
    func fashionMNISTTestSet() throws {
        let data = try DatasetLoader.load(path: DataFixtures.fashionImages, preprocessing: Preprocessing(scale: 1))
        #expect(data.count == 10_000)
        #expect(data.sampleShape == [1, 28, 28])
        #expect(data.labelSource == DataFixtures.fashionLabels)
        let labels = try #require(data.labels)
        #expect(labels.first == 9)  // ankle boot
        #expect(Array(labels.prefix(10)) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        var perClass = [Int](repeating: 0, count: 10)
        for label in labels { perClass[label] += 1 }
        #expect(perClass == [Int](repeating: 1000, count: 10))
        // Pixel facts from numpy: sum of image 0, its row 14, and the total.
        #expect(data.x[0..<784].reduce(0) { $0 + Int($1) } == 33456)
        #expect(data.x[(14 * 28)..<(15 * 28)].map { Int($0) } == [0, 0, 0, 0, 0, 0, 2, 4, 1, 0, 0, 0, 98, 136, 110, 109, 110, 162, 135, 144, 149, 159, 167, 144, 158, 169, 119, 0])
        #expect(data.x.reduce(0) { $0 + Int($1) } == 573_469_082)
        try data.validateLabels(classes: 10)
        expectDataError(file: DataFixtures.fashionLabels, "label 9 of sample 0 is outside 0..<9", exact: true) {
            try data.validateLabels(classes: 9)
        }
        let flat = try data.fitted(toInput: "input", dims: [nil, 784])
        #expect(flat.sampleShape == [784])
        let first = data.prefix(512)
        #expect(first.count == 512 && first.labels?.count == 512)
    }

    @Test(.enabled(if: DataFixtures.fashionInstalled, "needs Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)"))
    func fashionMNISTDefaultScaling() throws {
        let data = try DatasetLoader.load(path: DataFixtures.fashionImages, labels: DataFixtures.fashionLabels)
        #expect(data.x.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(data.x.contains(1))
        #expect(data.labelSource == DataFixtures.fashionLabels)
    }
}
