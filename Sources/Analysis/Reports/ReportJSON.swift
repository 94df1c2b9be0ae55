import Foundation

/// The one JSON encoding of the reports (`qscope ... --json`): one line, keys sorted, slashes not
/// escaped (paths stay readable). Keys are spelled by each report's `CodingKeys` (snake_case);
/// optional fields are left out when nil unless a report writes an explicit null.
///
/// JSON has no infinity or NaN. Reports decide for themselves what a non-finite number means (left
/// out, null, or "inf"); as a last resort, a non-finite number that reaches the encoder is written as
/// the string "inf", "-inf" or "nan" instead of failing the whole report.
public enum ReportJSON {
    /// `report` as one line of JSON.
    public static func encode<Report: Encodable>(_ report: Report) throws -> String {
        String(decoding: try encoder().encode(report), as: UTF8.self)
    }

    /// A fresh encoder with the reports' configuration (JSONEncoder is not Sendable, so no shared one).
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }
}

/// A JSON key spelled at run time (`accuracy_4bit`, the bit-widths of a map): for reports whose
/// key set depends on the data.
public struct DynamicCodingKey: CodingKey, Sendable {
    public var stringValue: String
    public var intValue: Int? { nil }
    public init(_ string: String) { stringValue = string }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { return nil }
}
