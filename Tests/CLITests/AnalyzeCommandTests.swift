import Foundation
import Testing

/// `qscope analyze --json`: one object with a row per quantizable layer, exactly the requested
/// number of probes with `--tolerance 0`, and the same numbers again for the same seed.
@Suite("analyze command")
struct AnalyzeCommandTests {
    struct Report: Decodable, Equatable {
        struct Layer: Decodable, Equatable {
            var name: String
            var trace: Double
            var trace_se: Double
            var trace_per_param: Double
            var parameters: Int
            var omega: [String: Double]
        }
        var layers: [Layer]
        var probes: Int
        var samples: Int
        var loss_kind: String
    }

    static func analyze(seed: Int) throws -> Report {
        let result = try QScopeProcess.run([
            "analyze", "sample-models/mlp.onnx", "--hessian-samples", "64", "--probes", "32", "--tolerance", "0",
            "--seed", String(seed), "--only", "hessian", "--json",
        ])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").last)
        return try JSONDecoder().decode(Report.self, from: Data(line.utf8))
    }

    @Test func jsonReportIsCompleteAndDeterministic() throws {
        let report = try Self.analyze(seed: 7)
        #expect(report.layers.map(\.name) == ["/net/net.1/Gemm", "/net/net.3/Gemm", "/net/net.5/Gemm"])
        #expect(report.probes == 32)
        #expect(report.samples == 64)
        for layer in report.layers {
            #expect(layer.trace > 0 && layer.trace_se >= 0, "\(layer.name)")
            #expect(abs(layer.trace_per_param - layer.trace / Double(layer.parameters)) <= 1e-12 * abs(layer.trace))
            // Ω falls with the bit-width (the quantization error does).
            let omega = ["2", "3", "4", "8"].compactMap { layer.omega[$0] }
            #expect(omega.count == 4 && zip(omega, omega.dropFirst()).allSatisfy { $0 > $1 }, "\(layer.name): \(omega)")
        }
        #expect(try Self.analyze(seed: 7) == report)
        #expect(try Self.analyze(seed: 8).layers.map(\.trace) != report.layers.map(\.trace))
    }

    // MARK: - Every part, exact fields

    static let partFields: [String: Set<String>] = [
        "hessian": ["trace", "trace_se", "trace_per_param", "omega"],
        "eigen": ["eigenvalue", "eigen_iterations", "eigen_converged"],
        "drop": ["accuracy_2bit", "accuracy_4bit", "drop_2bit", "drop_4bit"],
        "activations": ["activations"],
        "outliers": ["outliers"],
    ]
    static let topFields: [String: Set<String>] = [
        "hessian": ["probes", "loss", "loss_kind", "samples", "note"],
        "eigen": ["hessian_samples"],
        "drop": ["evaluation_samples", "accuracy_metric", "accuracy_fp32"],
        "activations": ["calibration_samples"],
        "outliers": [],
    ]

    static func run(_ extra: [String], data: String? = nil) throws -> (object: [String: Any], stderr: String) {
        var arguments = ["analyze", "sample-models/mlp.onnx", "--hessian-samples", "32", "--probes", "8", "--tolerance", "0",
                         "--calib", "64", "--limit", "200", "--json"] + extra
        if let data { arguments += ["--data", data] }
        let result = try QScopeProcess.run(arguments)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return (object, result.stderr)
    }

    @Test func defaultRunHasEveryPartsFields() throws {
        let (object, _) = try Self.run([])
        let parts = ["outliers", "activations", "hessian", "eigen", "drop"]
        #expect(object["parts"] as? [String] == parts)
        let top = Set(object.keys)
        #expect(top == Set(["model", "data", "layers", "seconds", "seconds_parts", "parts"]).union(Self.topFields.values.joined()))
        #expect(Set((object["seconds_parts"] as? [String: Double])?.keys.map { $0 } ?? []) == Set(parts))
        let layers = try #require(object["layers"] as? [[String: Any]])
        #expect(layers.count == 3)
        for layer in layers {
            #expect(Set(layer.keys) == Set(["name", "parameters"]).union(Self.partFields.values.joined()))
            let activations = try #require(layer["activations"] as? [String: Any])
            #expect(Set(activations.keys) == ["count", "min", "max", "mean", "std", "skew", "asymmetry", "negative_fraction",
                                              "histogram", "histogram_edges", "mse_symmetric", "mse_asymmetric"])
            #expect((activations["histogram"] as? [Int])?.count == 64)
            #expect((activations["histogram"] as? [Int])?.reduce(0, +) == activations["count"] as? Int)
            #expect(Set((activations["mse_symmetric"] as? [String: Double])?.keys.map { $0 } ?? []) == ["8", "4"])
            let outliers = try #require(layer["outliers"] as? [String: Any])
            #expect(Set(outliers.keys) == ["centers", "boundaries", "counts", "ranges", "iqr_outliers", "iqr_fences",
                                           "sigma_outliers", "sigma_k", "mean", "std"])
            #expect((outliers["counts"] as? [Int])?.reduce(0, +) == layer["parameters"] as? Int)
            let accuracy2 = try #require(layer["accuracy_2bit"] as? Double), drop2 = try #require(layer["drop_2bit"] as? Double)
            let reference = try #require(object["accuracy_fp32"] as? Double)
            #expect(abs(reference - accuracy2 - drop2) <= 1e-12)
            #expect((layer["eigenvalue"] as? Double).map { $0 > 0 } == true)
        }
    }

    @Test(arguments: ["hessian", "eigen", "activations", "outliers", "drop"])
    func onlyOnePart(_ part: String) throws {
        let (object, _) = try Self.run(["--only", part])
        #expect(object["parts"] as? [String] == [part])
        #expect(Set(object.keys) == Set(["model", "data", "layers", "seconds", "seconds_parts", "parts"]).union(Self.topFields[part]!))
        let layers = try #require(object["layers"] as? [[String: Any]])
        for layer in layers { #expect(Set(layer.keys) == Set(["name", "parameters"]).union(Self.partFields[part]!)) }
    }

    @Test func unknownPartAndTooManyHessianSamplesAreOneLine() throws {
        let unknown = try QScopeProcess.run(["analyze", "sample-models/mlp.onnx", "--only", "hessian,spectrum"])
        #expect(unknown.status != 0 && !unknown.crashed)
        #expect(unknown.stderr.contains("--only spectrum: unknown part"))
        let tooMany = try QScopeProcess.run(["analyze", "sample-models/mlp.onnx", "--only", "eigen", "--hessian-samples", "2001"])
        #expect(tooMany.status == 1 && !tooMany.crashed)
        #expect(tooMany.stderr.contains("--hessian-samples 2001 is larger than the data (2000 samples)"), "\(tooMany.stderr)")
        #expect(tooMany.stderr.split(separator: "\n").count == 1)
        #expect(tooMany.stdout.isEmpty)
    }

    /// A .npy of inputs has no labels: the Hessian loss falls back to KL to the FP32 outputs and says
    /// so on stderr and in the report; accuracies become agreement with FP32 (FP32 agrees with itself).
    @Test func dataWithoutLabelsFallsBackToKL() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-unlabelled-\(getpid()).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.writeNPY(path: path, shape: [48, 1, 28, 28]) { i in Float((i * 7919) % 255) / 255 - 0.3 }
        let (object, stderr) = try Self.run(["--only", "hessian,drop", "--hessian-samples", "16"], data: path)
        #expect(stderr.contains("has no labels: the Hessian loss is the KL divergence (logits) or the squared error (other outputs) to the FP32 outputs"))
        #expect(object["loss_kind"] as? String == "kl-to-fp32")
        #expect((object["note"] as? String)?.contains("KL divergence of the last-axis softmax to the FP32 outputs over 16 samples") == true)
        #expect(object["accuracy_metric"] as? String == "top-1 agreement with FP32")
        #expect(object["accuracy_fp32"] as? Double == 1)
        #expect(object["evaluation_samples"] as? Int == 48)
    }

    /// Without --hessian-samples a data set smaller than the default 512 is used whole (an explicit
    /// count larger than the data is an error, above).
    @Test func defaultHessianSamplesFitSmallData() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-small-\(getpid()).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Self.writeNPY(path: path, shape: [40, 1, 28, 28]) { i in Float((i * 104_729) % 255) / 255 - 0.3 }
        let result = try QScopeProcess.run(["analyze", "sample-models/mlp.onnx", "--data", path, "--only", "eigen", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").last)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["hessian_samples"] as? Int == 40, "\(object)")
    }

    /// A little-endian float32 .npy (format 1.0) of `shape` with `value(i)` at flat index i.
    static func writeNPY(path: String, shape: [Int], value: (Int) -> Float) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))\(shape.count == 1 ? "," : "")), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8)
        for i in 0..<shape.reduce(1, *) { withUnsafeBytes(of: value(i).bitPattern.littleEndian) { bytes += $0 } }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
