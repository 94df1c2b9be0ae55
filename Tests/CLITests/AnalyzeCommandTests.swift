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
}
