import Foundation
import Testing

/// `info` on already-quantized models (fixtures by `tools/make_quantized_fixtures.py`).
@Suite("already-quantized models on the command line")
struct QuantizedModelCommandTests {
    static let folder = "Tests/Fixtures/exporters/quantized/"

    @Test("info --json lists each layer's stored quantization: type, spec, axis, scales, zero points, storing op")
    func infoListsStoredQuantization() throws {
        let result = try QScopeProcess.run(["info", Self.folder + "cnn_qoperator.onnx", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let layers = try #require(object?["layers"] as? [[String: Any]])
        #expect(layers.map { $0["op"] as? String } == ["QLinearConv", "QLinearConv", "QLinearConv", "QLinearMatMul"])
        let stored = layers.compactMap { $0["stored"] as? [String: Any] }
        #expect(stored.count == 4)
        #expect(stored.allSatisfy { $0["type"] as? String == "int8" && $0["spec"] as? String == "stored:int8" })
        #expect(stored.map { $0["axis"] as? Int } == [0, 0, 0, 1])
        #expect(stored.map { ($0["scales"] as? [Double])?.count } == [8, 16, 16, 10])
        #expect(stored.allSatisfy { ($0["zero_points"] as? [Int])?.allSatisfy { $0 == 0 } == true })
        #expect(stored.map { $0["stored_by"] as? String } == ["QLinearConv", "QLinearConv", "QLinearConv", "QLinearMatMul"])

        let qdq = try QScopeProcess.run(["info", Self.folder + "cnn_qdq_u8.onnx"])
        #expect(qdq.status == 0, "\(qdq.stderr)")
        #expect(qdq.stdout.contains("stored as"))
        #expect(qdq.stdout.components(separatedBy: "uint8 per tensor").count - 1 == 4, "\(qdq.stdout)")
        let float = try QScopeProcess.run(["info", Self.folder + "cnn_float.onnx", "--json"])
        #expect(!float.stdout.contains("\"stored\""))
    }

    @Test("eval --plan: layers the plan file does not list keep their stored format (8 bits per weight, outputs as stored)")
    func evalPlanStartsFromStored() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-stored-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = dir.appendingPathComponent("empty.qscope.json").path
        try "{\"format\": \"qscope-plan\", \"version\": 1, \"layers\": {}}".write(toFile: plan, atomically: true, encoding: .utf8)
        let result = try QScopeProcess.run(["eval", Self.folder + "cnn_qoperator.onnx", "--data", Self.folder + "inputs.npy",
                                            "--plan", plan, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["average_bits_per_weight"] as? Double == 8, "\(result.stdout)")
        #expect(object["samples"] as? Int == 8)
    }

    @Test("export refuses an already-quantized model in one line naming the layer and how it is stored")
    func exportRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-stored-export-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = dir.appendingPathComponent("empty.qscope.json").path, out = dir.appendingPathComponent("out.onnx").path
        try "{\"format\": \"qscope-plan\", \"version\": 1, \"layers\": {}}".write(toFile: plan, atomically: true, encoding: .utf8)
        let result = try QScopeProcess.run(["export", Self.folder + "cnn_qdq.onnx", "--plan", plan, "--format", "onnx-qdq", "-o", out])
        #expect(result.status == 1)
        #expect(result.stderr.contains("already stored quantized (int8 per channel"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("a contrib op is refused in one line naming its domain")
    func contribOp() throws {
        let result = try QScopeProcess.run(["info", Self.folder + "contrib_qlinearadd.onnx"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("unsupported op com.microsoft.QLinearAdd"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }
}
