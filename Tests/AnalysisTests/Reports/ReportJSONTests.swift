import Analysis
import Foundation
import Testing

@Suite struct ReportJSONTests {
    private struct Sample: Encodable {
        var path = "a/b.onnx"
        var zValue = 1
        var value: Double
    }

    @Test func sortedKeysUnescapedSlashesOneLine() throws {
        #expect(try ReportJSON.encode(Sample(value: 0.5)) == #"{"path":"a/b.onnx","value":0.5,"zValue":1}"#)
    }

    /// A non-finite number that reaches the encoder is a string, not a failed report.
    @Test func nonFiniteNumbersDoNotFail() throws {
        #expect(try ReportJSON.encode(Sample(value: .infinity)).contains(#""value":"inf""#))
        #expect(try ReportJSON.encode(Sample(value: .nan)).contains(#""value":"nan""#))
    }

    /// `qscope eval`'s quantizer fields: flat snake_case keys, and an infinite weight SQNR left out.
    @Test func quantizationSummaryKeys() throws {
        var summary = UniformQuantizationSummary()
        summary.weights = .init(spec: "int8", layers: 3, bitsPerWeight: 8.125, sizeMB: 0.25, payloadMB: 0.125,
                                sqnrDB: nil, seconds: 0.5, ofSmoothedWeights: false)
        summary.lut = .plainWithoutGradients("no backward pass for Foo")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(ReportJSON.encode(summary).utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["weights", "weight_bits_per_weight", "weight_size_mb", "weight_payload_mb",
                                     "quantize_seconds", "lut_weighting", "fisher_unavailable"])
        #expect(object["lut_weighting"] as? String == "plain")
        summary.weights?.sqnrDB = 41.5
        #expect(try ReportJSON.encode(summary).contains(#""weight_sqnr_db":41.5"#))
    }
}
