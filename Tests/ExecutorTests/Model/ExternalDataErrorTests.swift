import Executor
import Foundation
import Testing

/// Every broken external-data reference is one `QScopeError` naming the tensor and the data file
/// (and, through `ONNXLoader.load`, the model file); valid references of each element type decode.
/// The tensors are built here with the generated protobuf types, in a temporary folder holding
/// `weights.bin` (the floats 0, 0.1, ..., 1.1: 48 bytes), `ints.bin` and a subfolder.
@Suite("external data errors")
final class ExternalDataErrorTests {
    let folder: String

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-external-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
        let floats = (0..<12).map { Float($0) / 10 }
        try Data(floats.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
            .write(to: URL(fileURLWithPath: folder + "/weights.bin"))
        let ints: [Int64] = [2, -1, 3]
        try Data(ints.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } + [0x21, 0x0F])
            .write(to: URL(fileURLWithPath: folder + "/ints.bin"))
    }

    static func tensor(_ entries: [(String, String)], dims: [Int64] = [4, 3], type: DataType = .float32) -> Onnx_TensorProto {
        var proto = Onnx_TensorProto()
        proto.name = "w"
        proto.dims = dims
        proto.dataType = Int32(type.rawValue)
        proto.dataLocation = .external
        proto.externalData = entries.map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        return proto
    }

    func message(_ entries: [(String, String)], dims: [Int64] = [4, 3], type: DataType = .float32) -> String {
        do {
            let tensor = try TensorDecoder.decode(Self.tensor(entries, dims: dims, type: type), baseDirectory: folder)
            return "decoded \(tensor.shape)"
        } catch {
            return QScopeError.message(for: error)
        }
    }

    /// (entries, dims, type, words the message must contain)
    static let cases: [([(String, String)], [Int64], DataType, [String])] = [
        ([("offset", "0")], [4, 3], .float32, ["tensor 'w' keeps its data in an external file but names none"]),
        ([("location", "/tmp/weights.bin")], [4, 3], .float32, ["'/tmp/weights.bin' is an absolute path"]),
        ([("location", "C:\\models\\weights.bin")], [4, 3], .float32, ["is an absolute path"]),
        ([("location", "../weights.bin")], [4, 3], .float32, ["'../weights.bin' leaves the model's folder"]),
        ([("location", "sub\\..\\..\\weights.bin")], [4, 3], .float32, ["leaves the model's folder"]),
        ([("location", "weights.bin"), ("offset", "-4")], [4, 3], .float32, ["offset '-4', not a non-negative whole number"]),
        ([("location", "weights.bin"), ("offset", "1e3")], [4, 3], .float32, ["offset '1e3', not a non-negative whole number"]),
        ([("location", "weights.bin"), ("length", "abc")], [4, 3], .float32, ["length 'abc', not a non-negative whole number"]),
        ([("location", "no_such.bin")], [4, 3], .float32, ["'no_such.bin' does not exist (looked for "]),
        ([("location", "sub")], [4, 3], .float32, ["'sub' is a directory"]),
        ([("location", "weights.bin"), ("offset", "16"), ("length", "48")], [4, 3], .float32,
         ["'weights.bin' has 48 bytes, but the tensor's data is 48 bytes at offset 16, past its end"]),
        ([("location", "weights.bin"), ("offset", "100")], [4, 3], .float32, ["has 48 bytes, but the tensor's data starts at offset 100"]),
        ([("location", "weights.bin"), ("length", "40")], [4, 3], .float32, ["length 40 bytes, but the tensor's shape [4, 3] of float32 needs 48"]),
        ([("location", "weights.bin"), ("offset", "4")], [4, 3], .float32,
         ["holds 44 bytes from offset 4 to its end (no length given), but the tensor's shape [4, 3] of float32 needs 48"]),
        ([("location", "weights.bin"), ("length", "48")], [4, 3], .float16, ["length 48 bytes, but the tensor's shape [4, 3] of float16 needs 24"]),
    ]

    @Test("one line naming the tensor, the file and what is wrong", arguments: cases.indices)
    func brokenReference(index: Int) {
        let (entries, dims, type, words) = Self.cases[index]
        let text = message(entries, dims: dims, type: type)
        #expect(!text.contains("\n"))
        for word in words { #expect(text.contains(word), "'\(word)' missing from: \(text)") }
        if let location = entries.first(where: { $0.0 == "location" })?.1 {
            #expect(text.hasPrefix("tensor 'w': external data file '\(location)'"), "\(text)")
        }
    }

    @Test("a model's error names the model file first")
    func modelFileNamed() throws {
        var graph = Onnx_GraphProto()
        graph.initializer = [Self.tensor([("location", "weights.bin"), ("length", "40")])]
        var output = Onnx_ValueInfoProto()
        output.name = "w"
        graph.output = [output]
        var model = Onnx_ModelProto()
        model.irVersion = 8
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 17
        model.opsetImport = [opset]
        model.graph = graph
        let path = folder + "/model.onnx"
        let bytes: Data = try model.serializedBytes()
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: QScopeError(file: path, "tensor 'w': external data file 'weights.bin': length 40 bytes, but the tensor's shape [4, 3] of float32 needs 48")) {
            try ONNXLoader.load(path: path)
        }
    }

    @Test("valid references: float32 mapped (with and without a length), int64 and int4 converted exactly")
    func validReferences() throws {
        let whole = try TensorDecoder.decode(Self.tensor([("location", "weights.bin"), ("offset", "0"), ("length", "48")]), baseDirectory: folder)
        #expect(whole.values.isMapped)
        #expect(whole.values == (0..<12).map { Float($0) / 10 })
        let tail = try TensorDecoder.decode(Self.tensor([("location", "./weights.bin"), ("offset", "8")], dims: [10]), baseDirectory: folder)
        #expect(tail.values.isMapped)
        #expect(tail.values == (2..<12).map { Float($0) / 10 })
        let unaligned = try TensorDecoder.decode(Self.tensor([("location", "ints.bin"), ("offset", "2"), ("length", "4")], dims: [1]), baseDirectory: folder)
        #expect(!unaligned.values.isMapped)  // offset 2: copied (bytes 2...5 of the int64 2 are zero)
        #expect(unaligned.values == [0])
        let ints = try TensorDecoder.decode(Self.tensor([("location", "ints.bin"), ("length", "24")], dims: [3], type: .int64), baseDirectory: folder)
        #expect(ints.integers == [2, -1, 3] && !ints.values.isMapped)
        let nibbles = try TensorDecoder.decode(Self.tensor([("location", "ints.bin"), ("offset", "24")], dims: [3], type: .int4), baseDirectory: folder)
        #expect(nibbles.integers == [1, 2, -1])
        let empty = try TensorDecoder.decode(Self.tensor([("location", "weights.bin"), ("offset", "48"), ("length", "0")], dims: [0]), baseDirectory: folder)
        #expect(empty.values.isEmpty && !empty.values.isMapped)
    }
}
