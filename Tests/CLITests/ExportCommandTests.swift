import Foundation
import Testing

/// `qscope export`: every format writes its file; bad input is one line, exit 1, and leaves neither
/// the output nor a temporary file; `eval --plan` evaluates plan activation specs.
@Suite("qscope export")
struct ExportCommandTests {
    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-export-cli-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func writePlan(_ text: String, in dir: URL) throws -> String {
        let path = dir.appendingPathComponent("plan.qscope.json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let mlpPlan = """
        {"format": "qscope-plan", "version": 1, "layers": {
          "/net/net.1/Gemm": {"weights": "int4", "activations": "int8"},
          "/net/net.3/Gemm": {"weights": "int8:asym"}, "/net/net.5/Gemm": {"weights": "pot4"}}}
        """

    @Test("each format writes its file; the ONNX export's accuracy equals eval --plan's")
    func formats() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = try Self.writePlan(Self.mlpPlan, in: dir)
        let eval = try QScopeProcess.run(["eval", "sample-models/mlp.onnx", "--plan", plan, "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let evalObject = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as! [String: Any]
        #expect((evalObject["activations"] as? [Any])?.count == 1)
        for (format, file) in [("onnx-qdq", "out.onnx"), ("aimet", "out.encodings"), ("ort-overrides", "ort.json"), ("plan", "copy.qscope.json")] {
            let out = dir.appendingPathComponent(file).path
            let result = try QScopeProcess.run(["export", "sample-models/mlp.onnx", "--plan", plan, "--format", format, "-o", out, "--json"])
            #expect(result.status == 0, "\(format): \(result.stderr)")
            #expect(FileManager.default.fileExists(atPath: out), "\(format): no file")
            if format == "onnx-qdq" {
                #expect(result.stderr.contains("warning") && result.stderr.contains("/net/net.5/Gemm"), "baked layer named: \(result.stderr)")
                let again = try QScopeProcess.run(["eval", out, "--data", "sample-models/fashion-mnist-test-2000.npz", "--json"])
                #expect(again.status == 0, "\(again.stderr)")
                let object = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as! [String: Any]
                #expect(object["correct"] as? Int == evalObject["correct"] as? Int, "export \(object["correct"] ?? "-") vs eval --plan \(evalObject["correct"] ?? "-")")
            }
        }
        let copy = try String(contentsOfFile: dir.appendingPathComponent("copy.qscope.json").path, encoding: .utf8)
        #expect(copy.contains("\"activations\": \"int8\"") && copy.contains("int8:asym"))
    }

    /// The tiny BERT was exported at opset 17 with ReduceL2's `axes` attribute; 4-bit codes need
    /// opset 21's int4 containers, so the export moves the attribute to an input. The exported model's
    /// embeddings equal those of `eval --weights int4` on the original.
    @Test("a transformer at opset 17 exports int4 layers at opset 21 with the embeddings eval --weights int4 gives")
    func transformerRaisesTheOpset() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = "Tests/Fixtures/transformers/tiny-bert.onnx", data = "Tests/Fixtures/transformers/tiny-text.npz"
        let info = try QScopeProcess.run(["info", model, "--json"])
        let layers = try #require((try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])?["layers"] as? [[String: Any]])
        let entries = layers.compactMap { $0["name"] as? String }.map { "\"\($0)\": {\"weights\": \"int4\"}" }
        #expect(entries.count == 12)
        let plan = try Self.writePlan("{\"format\": \"qscope-plan\", \"version\": 1, \"layers\": {\(entries.joined(separator: ", "))}}", in: dir)
        let out = dir.appendingPathComponent("bert.qdq.onnx").path
        let export = try QScopeProcess.run(["export", model, "--data", data, "--plan", plan, "--format", "onnx-qdq", "-o", out])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try QScopeProcess.run(["info", out, "--json"]).stdout.contains("\"opset\":21"))
        let expected = dir.appendingPathComponent("expected.npy").path, exported = dir.appendingPathComponent("exported.npy").path
        #expect(try QScopeProcess.run(["eval", model, "--data", data, "--weights", "int4", "--outputs", expected]).status == 0)
        let again = try QScopeProcess.run(["eval", out, "--data", data, "--outputs", exported])
        #expect(again.status == 0, "\(again.stderr)")
        // Both files are [64, 64] float32 .npy with the same 128-byte header: compare the payloads.
        let a = try Data(contentsOf: URL(fileURLWithPath: expected)), b = try Data(contentsOf: URL(fileURLWithPath: exported))
        #expect(a.count == b.count && a.count == 128 + 64 * 64 * 4)
        let floats = { (d: Data) in d.dropFirst(128).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
        let worst = zip(floats(a), floats(b)).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5, "max |exported - eval --weights int4| = \(worst)")
    }

    @Test("bad input: unknown layer, missing output directory; one line, exit 1, nothing written")
    func badInput() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let badPlan = try Self.writePlan(#"{"format": "qscope-plan", "version": 1, "layers": {"/no/such/Gemm": {"weights": "int8"}}}"#, in: dir)
        let out = dir.appendingPathComponent("out.onnx").path
        let unknown = try QScopeProcess.run(["export", "sample-models/mlp.onnx", "--plan", badPlan, "--format", "onnx-qdq", "-o", out])
        #expect(unknown.status == 1 && !unknown.crashed)
        #expect(unknown.stderr.split(separator: "\n").count == 1 && unknown.stderr.contains("the plan's one layer is not in the model: the plan has '/no/such/Gemm'"), "\(unknown.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))

        let goodPlan = try Self.writePlan(Self.mlpPlan, in: dir)
        let missing = dir.appendingPathComponent("no/such/dir/out.onnx").path
        for format in ["onnx-qdq", "aimet", "ort-overrides", "plan"] {
            let result = try QScopeProcess.run(["export", "sample-models/mlp.onnx", "--plan", goodPlan, "--format", format, "-o", missing])
            #expect(result.status == 1 && !result.crashed, "\(format)")
            #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains(missing), "\(format): \(result.stderr)")
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "plan.qscope.json" }
        #expect(left.isEmpty, "left behind: \(left)")
    }
}
