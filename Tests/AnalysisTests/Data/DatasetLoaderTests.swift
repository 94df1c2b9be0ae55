import Executor
import Foundation
import Testing
import Analysis

/// DatasetLoader.load on .npz / .npy fixtures: values, labels, and every error path naming its file.
@Suite struct DatasetLoaderTests {
    private let xValues: [Float] = (0..<16).map { (Float($0) - 8) / 4 }

    private func load(_ name: String, labels: String? = nil) throws -> Dataset {
        try DatasetLoader.load(path: DataFixtures.path(name), labels: labels.map(DataFixtures.path))
    }

    @Test(arguments: ["stored.npz", "deflated.npz"])
    func npzFromSavezAndSavezCompressed(name: String) throws {
        let data = try load(name)
        #expect(data.source == DataFixtures.path(name))
        #expect(data.sampleShape == [1, 2, 2])
        #expect(data.sampleSize == 4)
        #expect(data.count == 4)
        #expect(data.x == xValues)
        #expect(data.labels == [3, 0, 9, 1])
        #expect(data.labelSource == nil)
    }

    @Test func npzWithoutLabelsAndWithRawUInt8Images() throws {
        let unlabelled = try load("x_only.npz")
        #expect(unlabelled.labels == nil)
        #expect(unlabelled.x == xValues)
        let bytes = try load("u8_images.npz")
        #expect(bytes.x == [0, 255, 128, 7])  // no implicit /255 for npz
        #expect(bytes.sampleShape == [2])
        #expect(bytes.labels == [1, 2])
    }

    @Test func floatLabelsWithIntegralValues() throws {
        #expect(try load("y_float.npz").labels == [2, 0, 1])
    }

    /// Without `x`, every array but `y` is a sample array named by its key (bound to the model's
    /// inputs by name later).
    @Test func npzWithoutXHoldsNamedArrays() throws {
        let data = try load("no_x.npz")
        #expect(data.arrays.map(\.name) == ["inputs"])
        #expect(data.labels != nil)
    }

    @Test func npzErrors() {
        let cases: [(String, String)] = [
            ("y_fraction.npz", "y must hold integer labels: element 1 is 0.5, not an integer"),
            ("y_count.npz", "y has 2 labels but x has 3 samples"),
            ("scalar_x.npz", "x is a 0-d scalar; expected an array whose first dimension counts the samples"),
            ("empty_x.npz", "x has no samples (shape [0, 4])"),
            ("random.npz", "not a zip archive, so not an .npz (those are written by numpy.savez or numpy.savez_compressed)"),
            ("bad_entry.npz", "x.npy: not a .npy file (it does not start with \\x93NUMPY)"),
        ]
        for (name, message) in cases {
            expectDataError(file: DataFixtures.path(name), message, exact: true) { _ = try load(name) }
        }
    }

    @Test func corruptZipIsAnErrorNotACrash() throws {
        let directory = try DataFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let original = DataFixtures.bytes("deflated.npz")
        // Damage the deflated x.npy entry (it starts after a 30-byte local header and its name).
        var damaged = original
        for index in 60..<120 { damaged[index] ^= 0xA5 }
        let path = directory + "/damaged.npz"
        try Data(damaged).write(to: URL(fileURLWithPath: path))
        expectDataError(file: path, "x.npy: corrupt archive entry") { _ = try DatasetLoader.load(path: path) }
        // Cut off: the central directory is gone.
        let cut = directory + "/cut.npz"
        try Data(original.prefix(original.count / 2)).write(to: URL(fileURLWithPath: cut))
        expectDataError(file: cut, "not a readable zip archive") { _ = try DatasetLoader.load(path: cut) }
    }

    @Test func npyIsUnlabelledUnlessLabelsAreGiven() throws {
        let bare = try load("x_4x1x2x2.npy")
        #expect(bare.labels == nil)
        #expect(bare.x == xValues)
        #expect(bare.sampleShape == [1, 2, 2])
        let labelled = try load("x_4x1x2x2.npy", labels: "labels_i4.npy")
        #expect(labelled.labels == [3, 0, 9, 1])
        #expect(labelled.labelSource == DataFixtures.path("labels_i4.npy"))
        // Explicit labels override an npz's y.
        #expect(try load("stored.npz", labels: "labels_i4.npy").labels == [3, 0, 9, 1])
    }

    @Test func explicitLabelsErrors() {
        expectDataError(file: DataFixtures.path("tiny-labels-idx1-ubyte"), "has 3 labels but \(DataFixtures.path("x_4x1x2x2.npy")) has 4 samples", exact: true) {
            _ = try load("x_4x1x2x2.npy", labels: "tiny-labels-idx1-ubyte")
        }
        expectDataError(file: DataFixtures.path("f4_2x3.npy"), "the array has shape [2, 3]; labels need one integer per sample, shape [N]", exact: true) {
            _ = try load("x_4x1x2x2.npy", labels: "f4_2x3.npy")
        }
        expectDataError(file: DataFixtures.path("random.npz"), "not a labels file") { _ = try load("x_4x1x2x2.npy", labels: "random.npz") }
        expectDataError(file: DataFixtures.path("missing-labels"), "no such file", exact: true) {
            _ = try load("x_4x1x2x2.npy", labels: "missing-labels")
        }
    }

    @Test func npyErrorsThroughTheLoader() {
        expectDataError(file: DataFixtures.path("scalar_f8.npy"), "the array is a 0-d scalar") { _ = try load("scalar_f8.npy") }
        expectDataError(file: DataFixtures.path("empty_f4_0x3.npy"), "the array has no samples (shape [0, 3])", exact: true) {
            _ = try load("empty_f4_0x3.npy")
        }
        expectDataError(file: DataFixtures.path("truncated.npy"), "truncated: expected 24 bytes of data, found 20", exact: true) {
            _ = try load("truncated.npy")
        }
        expectDataError(file: DataFixtures.path("random.npy"), "not a .npy file") { _ = try load("random.npy") }
    }

    @Test func missingEmptyAndUnrecognisedFiles() throws {
        expectDataError(file: DataFixtures.path("nope.npz"), "no such file", exact: true) { _ = try load("nope.npz") }
        expectDataError(file: DataFixtures.directory, "is a directory, not a data file", exact: true) {
            _ = try DatasetLoader.load(path: DataFixtures.directory)
        }
        let directory = try DataFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let empty = directory + "/empty.npz"
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        expectDataError(file: empty, "the file is empty", exact: true) { _ = try DatasetLoader.load(path: empty) }
        let junk = directory + "/junk.bin"
        _ = FileManager.default.createFile(atPath: junk, contents: Data("hello, world".utf8))
        expectDataError(file: junk, "unrecognised data format") { _ = try DatasetLoader.load(path: junk) }
    }
}
