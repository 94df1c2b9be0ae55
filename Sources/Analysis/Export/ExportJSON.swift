import Foundation

/// The one JSON writer of the encodings exports (AIMET, ORT overrides): two-space pretty printing,
/// object keys sorted, `/` left unescaped (tensor names are full of slashes), a final newline.
///
/// Keys sort by Unicode code point (`"B"` before `"a"`, `"x.10"` before `"x.2"`), the same on every
/// platform and locale. Numbers are written in the shortest form that reads back as the same
/// `Double` (`0.11519278585910797`, `1.0399314760434208e-06`, `0` for zero).
enum ExportJSON {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(value)) + [UInt8(ascii: "\n")]
    }
}
