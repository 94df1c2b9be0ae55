import Executor
import Foundation
import Testing

/// `TensorStorage`: a mapped view reads the file in place, copies itself into an owned array on the
/// first mutation (the file and other views never change), compares by elements, and keeps its
/// mapping alive exactly as long as some storage refers to it.
@Suite("tensor storage")
final class TensorStorageTests {
    let path: String
    let floats: [Float] = (0..<64).map { Float($0) * 0.5 - 3 }

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-storage-\(getpid())-\(UUID().uuidString).bin").path
        try Data(floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }).write(to: URL(fileURLWithPath: path))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @Test("a mapped view reads the file's floats")
    func mappedReads() throws {
        let file = try MappedFile(path: path)
        #expect(file.bytes.count == 256)
        let view = TensorStorage(mapping: file, byteOffset: 16, count: 8)
        #expect(view.isMapped && view.count == 8)
        #expect(Array(view) == Array(floats[4..<12]))
        #expect(view[3] == floats[7])
        #expect(view.reduce(0, +) == floats[4..<12].reduce(0, +))
        view.withUnsafeBufferPointer { #expect($0.baseAddress.map(UnsafeRawPointer.init) == file.bytes.baseAddress! + 16) }
    }

    @Test("mutation copies a mapped view into an owned array; the file and the original view are unchanged")
    func copyOnWrite() throws {
        let file = try MappedFile(path: path)
        let view = TensorStorage(mapping: file, byteOffset: 0, count: 64)
        var copy = view
        copy[5] = 100
        #expect(!copy.isMapped && view.isMapped)
        #expect(copy[5] == 100 && view[5] == floats[5])
        #expect(Array(copy.prefix(5)) == Array(floats.prefix(5)))
        var other = view
        other.withUnsafeMutableBufferPointer { $0[0] = -1 }
        #expect(!other.isMapped && other[0] == -1 && view[0] == floats[0])
        let reread = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(reread == Data(floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }))
        // Owned storage mutated in place keeps its identity as an array value.
        var owned = TensorStorage([1, 2, 3])
        owned[1] = 7
        #expect(owned == [1, 7, 3])
        #expect(owned.array == [1, 7, 3])
    }

    @Test("equality compares elements across both forms")
    func equality() throws {
        let file = try MappedFile(path: path)
        let view = TensorStorage(mapping: file, byteOffset: 8, count: 3)
        #expect(view == TensorStorage(Array(floats[2..<5])))
        #expect(view == Array(floats[2..<5]))
        #expect(view != TensorStorage([floats[2], floats[3], 0]))
        #expect(view != TensorStorage(Array(floats[2..<6])))
        let tensor = Tensor(shape: [3], values: view)
        #expect(tensor == Tensor(shape: [3], values: Array(floats[2..<5])))
    }

    @Test("the mapping lives as long as a storage refers to it and is unmapped after")
    func lifetime() throws {
        weak var weakFile: MappedFile?
        var storage: TensorStorage? = try {
            let file = try MappedFile(path: path)
            weakFile = file
            return TensorStorage(mapping: file, byteOffset: 4, count: 2)
        }()
        #expect(weakFile != nil)
        #expect(storage.map { Array($0) } == Array(floats[1..<3]))
        #if os(Linux)
        #expect(Self.mappedPaths().contains(path))
        #endif
        storage = nil
        #expect(weakFile == nil)
        #if os(Linux)
        #expect(!Self.mappedPaths().contains(path))
        #endif
    }

    /// The process's memory map (`/proc/self/maps`; read to the end, its reported size is 0).
    static func mappedPaths() -> String {
        let handle = FileHandle(forReadingAtPath: "/proc/self/maps")
        defer { try? handle?.close() }
        return String(decoding: handle?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
    }

    @Test("an empty file maps to no bytes and an empty view is owned")
    func emptyFile() throws {
        let empty = path + ".empty"
        FileManager.default.createFile(atPath: empty, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let file = try MappedFile(path: empty)
        #expect(file.bytes.isEmpty)
        let view = TensorStorage(mapping: file, byteOffset: 0, count: 0)
        #expect(view.isEmpty && !view.isMapped)
    }
}
