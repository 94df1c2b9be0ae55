import Executor
import Foundation
import Testing
import Analysis

/// NPY.writeFloat32: byte-for-byte equal to numpy's `np.save` (committed references), re-read by
/// NPY.read, atomic, and failing cleanly.
@Suite struct NPYWriterTests {
    private func written(_ values: [Float], shape: [Int]) throws -> [UInt8] {
        let directory = try DataFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/out.npy"
        try NPY.writeFloat32(values, shape: shape, to: path)
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// (numpy-written reference, values, shape); the 1-D values go through Double, as numpy converted
    /// those Python floats.
    static let references: [(String, [Float], [Int])] = [
        ("f4_2x3.npy", [-1.5, 0, 0.25, 2, 3.5, -7], [2, 3]),
        ("ref_f4_1d.npy", [1, -0.5, Float(3.0e-5 as Double), Float(1.0e20 as Double), 0], [5]),
        ("ref_f4_0d.npy", [-4.75], []),
        ("ref_f4_2x1x2x2.npy", (0..<8).map { Float($0) / 8 }, [2, 1, 2, 2]),
        ("ref_f4_empty.npy", [], [0]),
        ("ref_f4_12345x0.npy", [], [12345, 0]),
        ("ref_f4_rank15.npy", [2.5], Array(repeating: 1, count: 15)),
    ]

    @Test(arguments: references)
    func matchesNumpyByteForByte(reference: String, values: [Float], shape: [Int]) throws {
        let expected = DataFixtures.bytes(reference)
        #expect(!expected.isEmpty)
        let bytes = try written(values, shape: shape)
        #expect(bytes == expected)
        #expect(bytes.count % 64 == (4 * values.count) % 64)  // header padded to a multiple of 64
    }

    @Test func roundTripsThroughTheReader() throws {
        let values: [Float] = [.pi, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude, .infinity, 1e-3]
        let directory = try DataFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/round.npy"
        try NPY.writeFloat32(values, shape: [3, 2], to: path)
        let array = try NPY.read(path: path)
        #expect(array.shape == [3, 2])
        #expect(array.descr == "<f4")
        #expect(array.floats().map(\.bitPattern) == values.map(\.bitPattern))

        var nan = try NPY.read(path: path)
        try NPY.writeFloat32([.nan], shape: [1], to: path)
        nan = try NPY.read(path: path)
        #expect(nan.floats()[0].isNaN)
    }

    @Test func replacesAtomicallyAndLeavesNoTemporaryFiles() throws {
        let directory = try DataFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/a.npy"
        try NPY.writeFloat32([1, 2, 3], shape: [3], to: path)
        try NPY.writeFloat32([4], shape: [1, 1], to: path)
        #expect(try NPY.read(path: path).floats() == [4])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["a.npy"])
    }

    @Test func badShapesAreErrorsAndWriteNothing() throws {
        let directory = try DataFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.npy"
        expectDataError(file: path, "cannot write: shape [2, 3] holds 6 values but 5 were given", exact: true) {
            try NPY.writeFloat32([1, 2, 3, 4, 5], shape: [2, 3], to: path)
        }
        expectDataError(file: path, "shape [-1, 2] has a negative dimension", exact: true) {
            try NPY.writeFloat32([], shape: [-1, 2], to: path)
        }
        expectDataError(file: path, "holds 1 values but 2 were given") { try NPY.writeFloat32([1, 2], shape: [], to: path) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test func unwritableDestinations() throws {
        let directory = try DataFixtures.scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = directory + "/no/such/dir/x.npy"
        expectDataError(file: missing, "cannot write: no such file or directory", exact: true) {
            try NPY.writeFloat32([1], shape: [1], to: missing)
        }
        try FileManager.default.createDirectory(atPath: directory + "/sub", withIntermediateDirectories: false)
        expectDataError(file: directory + "/sub", "cannot write") { try NPY.writeFloat32([1], shape: [1], to: directory + "/sub") }
        expectDataError(file: directory + "/", "cannot write: the path names a directory", exact: true) {
            try NPY.writeFloat32([1], shape: [1], to: directory + "/")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["sub"])
    }
}
