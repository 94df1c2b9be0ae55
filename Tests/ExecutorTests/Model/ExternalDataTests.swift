import Executor
import Analysis
import Foundation
import TestSupport
import Testing

/// External data (`data_location = EXTERNAL`): float32 tensors at aligned offsets stay mapped and
/// are read in place, everything else is converted, the model computes what ONNX Runtime computes
/// (`tools/make_external_data_fixtures.py`), and every broken reference is one clear error.
@Suite("external data")
struct ExternalDataTests {
    static let directory = "Tests/Fixtures/external/"
    static func path(_ name: String) -> String { BundledSamples.path(directory + name) }

    static func constant(_ graph: Graph, _ name: String) throws -> (id: ValueID, tensor: Tensor) {
        let id = try #require(graph.valueNames.firstIndex(of: name), "no value '\(name)'")
        return (id, try #require(graph.constants[id], "'\(name)' is not a constant"))
    }

    /// `count` little-endian float32 values at `offset` of the data file, read independently of the
    /// mapping.
    static func floatsInFile(offset: Int, count: Int) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path("external.weights")))
        return (0..<count).map { i in
            let bytes = data[(offset + 4 * i)..<(offset + 4 * i + 4)]
            return Float(bitPattern: bytes.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
    }

    @Test("aligned float32 tensors are mapped, not copied, and hold the file's bytes")
    func alignedFloat32IsMapped() throws {
        let graph = try ONNXLoader.load(path: Self.path("external.onnx"))
        let w1 = try Self.constant(graph, "w1").tensor, b1 = try Self.constant(graph, "b1").tensor
        #expect(w1.values.isMapped && b1.values.isMapped)
        #expect(w1.values.mappedFile?.path.hasSuffix("external.weights") == true)
        // One mapping per data file, shared by its tensors.
        #expect(w1.values.mappedFile === b1.values.mappedFile)
        let file = try #require(w1.values.mappedFile)
        #expect(w1.values.mappedBaseAddress == file.bytes.baseAddress?.assumingMemoryBound(to: Float.self))
        #expect(b1.values.mappedBaseAddress == (file.bytes.baseAddress! + 3144).assumingMemoryBound(to: Float.self))
        #expect(w1.shape == [16, 32] && w1.values.count == 512)
        #expect(Array(w1.values) == (try Self.floatsInFile(offset: 0, count: 512)))
        #expect(Array(b1.values) == (try Self.floatsInFile(offset: 3144, count: 32)))  // no 'length': to the end
    }

    @Test("an unaligned float32 tensor and a float16 tensor are converted into owned arrays")
    func unalignedAndOtherTypesAreCopied() throws {
        let graph = try ONNXLoader.load(path: Self.path("external.onnx"))
        let w2 = try Self.constant(graph, "w2").tensor, w3 = try Self.constant(graph, "w3").tensor
        #expect(!w2.values.isMapped && !w3.values.isMapped)
        #expect(w2.values.mappedFile == nil)
        #expect(Array(w2.values) == (try Self.floatsInFile(offset: 2050, count: 256)))
        // float16 is widened to float32 values (exactly).
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.path("external.weights")))
        let halves = (0..<32).map { i in Float(Float16(bitPattern: UInt16(data[3080 + 2 * i]) | UInt16(data[3081 + 2 * i]) << 8)) }
        #expect(w3.shape == [8, 4] && Array(w3.values) == halves)
    }

    @Test("every tensor equals the embedded model's")
    func tensorsEqualEmbedded() throws {
        let external = try ONNXLoader.load(path: Self.path("external.onnx"))
        let embedded = try ONNXLoader.load(path: Self.path("embedded.onnx"))
        for name in ["w1", "b1", "w2", "w3", "shape"] {
            let a = try Self.constant(external, name).tensor, b = try Self.constant(embedded, name).tensor
            #expect(a == b, "\(name)")
            #expect(!b.values.isMapped)
        }
    }

    @Test("outputs equal the embedded model's exactly and ONNX Runtime's within 1e-5; the compiled graph reads the mapping in place")
    func outputsMatchOnnxRuntime() throws {
        let data = try DatasetLoader.load(path: Self.path("input.npz"))
        let x = data.arrays[0].values
        #expect(x.count == 8 * 16)
        var outputs: [[Float]] = []
        for name in ["external.onnx", "embedded.onnx"] {
            let model = try Model.load(path: Self.path(name))
            let compiled = try model.compile(batch: 8, sampleShape: [16])
            x.withUnsafeBufferPointer { compiled.run([$0.baseAddress!]) }
            outputs.append(Array(compiled.output(0)))
            if name == "external.onnx" {
                // The weight is read from the mapping, not from a private copy.
                let (id, w1) = try Self.constant(model.graph, "w1")
                #expect(w1.values.isMapped)
                #expect(compiled.value(id)?.baseAddress == w1.values.mappedBaseAddress)
            }
        }
        #expect(outputs[0] == outputs[1])
        let reference = try NPY.read(path: Self.path("output.npy"))
        #expect(reference.shape == [8, 2, 2])
        let expected = reference.floats()
        let scale = expected.reduce(0) { max($0, abs($1)) }
        let worst = zip(outputs[0], expected).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(outputs[0].count == expected.count && worst <= 1e-5 * scale, "max |qscope - ORT| = \(worst), largest |value| \(scale)")
    }
}
