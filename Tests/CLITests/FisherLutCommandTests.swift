import Foundation
import Testing

/// `lut` and the Fisher weighting on the command line: `eval` and `compare` say in their JSON whether
/// the k-means was Fisher-weighted, `--plain-lut` turns it off, and the two give different weights.
@Suite("lut Fisher weighting on the command line")
struct FisherLutCommandTests {
    static func json(_ arguments: [String]) throws -> [String: Any] {
        let result = try QScopeProcess.run(arguments)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func evalReportsTheWeighting() throws {
        let base = ["eval", "sample-models/mlp.onnx", "--limit", "200", "--weights", "lut2", "--calib", "40", "--json"]
        let fisher = try Self.json(base)
        #expect(fisher["lut_weighting"] as? String == "fisher")
        #expect(fisher["fisher_samples"] as? Int == 40)
        #expect(fisher["fisher_loss"] as? String == "cross-entropy")
        let plain = try Self.json(base + ["--plain-lut"])
        #expect(plain["lut_weighting"] as? String == "plain")
        #expect(plain["fisher_samples"] == nil)
        #expect(plain["weight_sqnr_db"] as? Double != fisher["weight_sqnr_db"] as? Double)
        // Other families say nothing about it.
        let int = try Self.json(["eval", "sample-models/mlp.onnx", "--limit", "50", "--weights", "int4", "--json"])
        #expect(int["lut_weighting"] == nil)
    }

    @Test func compareMarksFisherRows() throws {
        let report = try Self.json(["compare", "sample-models/mlp.onnx", "--bits", "3", "--limit", "100", "--calib", "30",
                                    "--layer", "/net/net.5/Gemm", "--json"])
        let fisher = try #require(report["fisher"] as? [String: Any])
        #expect(fisher["samples"] as? Int == 30)
        let rows = try #require(report["rows"] as? [[String: Any]])
        for row in rows {
            let name = row["quantizer"] as! String
            #expect(row["fisher_weighted"] as? Bool == name.hasPrefix("lut"), "\(name)")
        }
        let plain = try Self.json(["compare", "sample-models/mlp.onnx", "--bits", "3", "--limit", "100", "--plain-lut",
                                   "--layer", "/net/net.5/Gemm", "--json"])
        #expect(plain["fisher"] is NSNull)
        #expect((plain["rows"] as! [[String: Any]]).allSatisfy { $0["fisher_weighted"] as? Bool == false })
    }

    @Test func badCalibIsOneLine() throws {
        let result = try QScopeProcess.run(["eval", "sample-models/mlp.onnx", "--weights", "lut2", "--calib", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--calib must be at least 1"))
    }
}
