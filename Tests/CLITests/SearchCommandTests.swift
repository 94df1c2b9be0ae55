import Foundation
import Testing

/// `qscope search` and `qscope pareto` as a user runs them: JSON fields, the budget respected, the
/// plan file written, and bad input refused in one line with nothing written.
@Suite("search command")
struct SearchCommandTests {
    static let fast = ["--hessian-samples", "32", "--probes", "4", "--tolerance", "0"]
    static let data = ["--data", "sample-models/fashion-mnist-test-2000.npz"]

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("qscope-search-\(getpid())-\(name)").path
    }

    static func object(_ result: QScopeProcess.Result) throws -> [String: Any] {
        let line = try #require(result.stdout.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test("hawq --json: documented fields, within the budget, plan file loadable by eval", arguments: ["hawq", "greedy"])
    func searchJSON(_ method: String) throws {
        let plan = Self.temporaryPath("\(method).qscope.json")
        defer { try? FileManager.default.removeItem(atPath: plan) }
        let result = try QScopeProcess.run(["search", "sample-models/mlp.onnx"] + Self.data
            + ["--avg-bits", "3.5", "--method", method, "--bits", "2,4,8", "-o", plan, "--json"] + Self.fast)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try Self.object(result)
        for key in ["avg_bits", "size_mb", "accuracy", "evaluations", "seconds", "layers"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(object["budget"] as? [String: Double] == ["avg_bits": 3.5])
        let average = try #require(object["avg_bits"] as? Double)
        #expect(average <= 3.5 && average > 2)
        let totalBits = try #require(object["total_bits"] as? Int)
        #expect(abs(try #require(object["size_mb"] as? Double) - Double(totalBits) / 8 / 1_048_576) < 1e-12)
        let layers = try #require(object["layers"] as? [String: String])
        #expect(Set(layers.keys) == ["/net/net.1/Gemm", "/net/net.3/Gemm", "/net/net.5/Gemm"])
        #expect(layers.values.allSatisfy { ["int2", "int4", "int8"].contains($0) })
        let evaluations = try #require(object["evaluations"] as? Int)
        #expect(method == "hawq" ? evaluations == 1 : evaluations > 3)
        // The written plan evaluates to the same accuracy through `eval --plan`.
        let eval = try QScopeProcess.run(["eval", "sample-models/mlp.onnx"] + Self.data + ["--plan", plan, "--json"])
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        let evaluated = try Self.object(eval)
        #expect(evaluated["accuracy"] as? Double == object["accuracy"] as? Double)
        #expect(evaluated["weights_with_metadata_mb"] as? Double == object["size_mb"] as? Double)
    }

    @Test("a written plan remembers its model and data: --plan alone reopens them from another folder, and warns for another model")
    func planOpensFromAnotherFolder() throws {
        let plan = Self.temporaryPath("provenance.qscope.json")
        defer { try? FileManager.default.removeItem(atPath: plan) }
        let search = try QScopeProcess.run(["search", "sample-models/mlp.onnx"] + Self.data
            + ["--avg-bits", "4", "--bits", "2,4,8", "-o", plan, "--json"] + Self.fast)
        #expect(search.status == 0, "stderr: \(search.stderr)")
        let elsewhere = FileManager.default.temporaryDirectory
        let eval = try QScopeProcess.run(["eval", "--plan", plan, "--json"], in: elsewhere)
        #expect(eval.status == 0, "stderr: \(eval.stderr)")
        #expect(eval.stderr.isEmpty, "\(eval.stderr)")
        let evaluated = try Self.object(eval)
        #expect(evaluated["accuracy"] as? Double == (try Self.object(search))["accuracy"] as? Double)
        #expect((evaluated["model"] as? String)?.hasSuffix("sample-models/mlp.onnx") == true)
        // The same layer names in another file: it opens, with one warning line naming the hash.
        let copy = Self.temporaryPath("mlp-copy.onnx")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        var bytes = try Data(contentsOf: QScopeProcess.repositoryRoot.appendingPathComponent("sample-models/mlp.onnx"))
        bytes.append(contentsOf: [0x12, 0x00])  // an empty trailing field: the same model, other bytes
        try bytes.write(to: URL(fileURLWithPath: copy))
        let other = try QScopeProcess.run(["eval", copy] + Self.data + ["--plan", plan, "--json"])
        #expect(other.status == 0, "stderr: \(other.stderr)")
        #expect(other.stderr.split(separator: "\n").count == 1 && other.stderr.contains("it was saved for a model with SHA-256"),
                "\(other.stderr)")
    }

    @Test("a --size-mb budget is respected")
    func sizeBudget() throws {
        let result = try QScopeProcess.run(["search", "sample-models/mlp.onnx"] + Self.data
            + ["--size-mb", "0.1", "--json"] + Self.fast)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try Self.object(result)
        #expect(object["budget"] as? [String: Double] == ["size_mb": 0.1])
        #expect(try #require(object["size_mb"] as? Double) <= 0.1)
    }

    @Test("pareto --json: uniform points and a non-empty front")
    func paretoJSON() throws {
        let result = try QScopeProcess.run(["pareto", "sample-models/mlp.onnx"] + Self.data + ["--bits", "2,4,8", "--json"] + Self.fast)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try Self.object(result)
        let points = try #require(object["points"] as? [[String: Any]])
        #expect(points.filter { $0["source"] as? String == "uniform" }.count == 3)
        #expect(points.filter { $0["source"] as? String == "hawq" }.count == object["distinct_hawq_plans"] as? Int)
        #expect(points.contains { $0["on_front"] as? Bool == true })
    }

    /// (arguments after the model and data, words the one line must contain)
    static let badCases: [([String], [String])] = [
        (["--avg-bits", "1"], ["below the smallest plan", "bits per weight", "MB"]),
        (["--size-mb", "0.001"], ["below the smallest plan"]),
        (["--avg-bits", "3", "--size-mb", "0.1"], ["one budget"]),
        ([], ["give a budget"]),
        (["--avg-bits", "4", "--bits", "2,x,8"], ["--bits", "'x'"]),
        (["--avg-bits", "4", "--bits", "1,4"], ["--bits", "outside"]),
        (["--avg-bits", "4", "--family", "fp", "--bits", "3,4"], ["--family 'fp' cannot express 3 bits"]),
        (["--avg-bits", "4", "--method", "exhaustive"], ["--method"]),
        (["--avg-bits", "0"], ["--avg-bits must be a positive number"]),
    ]

    @Test("bad input: one line, exit 1, no plan written", arguments: badCases.indices)
    func badInput(_ index: Int) throws {
        let (arguments, words) = Self.badCases[index]
        let plan = Self.temporaryPath("bad-\(index).qscope.json")
        let result = try QScopeProcess.run(["search", "sample-models/mlp.onnx"] + Self.data + arguments + ["-o", plan] + Self.fast)
        #expect(result.status == 1)
        #expect(!result.crashed && !result.timedOut)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        for word in words { #expect(result.stderr.contains(word), "'\(word)' missing from: \(result.stderr)") }
        #expect(result.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: plan))
    }

    @Test("a plan path in a missing directory: one line, nothing written")
    func missingDirectory() throws {
        let plan = Self.temporaryPath("no-such-dir") + "/plan.qscope.json"
        let result = try QScopeProcess.run(["search", "sample-models/mlp.onnx"] + Self.data + ["--avg-bits", "4", "--method", "hawq", "-o", plan] + Self.fast)
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("qscope: \(plan): cannot write"), "stderr: \(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: plan))
    }
}
