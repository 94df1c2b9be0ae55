import Executor
import Foundation

/// Parses the `--bits` list of a search: comma-separated integer widths, e.g. `2,4,8`.
public enum BitWidthList {
    /// The default candidate widths.
    public static let defaultWidths = [2, 3, 4, 6, 8]

    /// The widths of `text`, ascending and distinct.
    /// - Throws: `QScopeError` naming the bad entry: not an integer, outside 2...16, repeated, or an
    ///   empty list.
    public static func parse(_ text: String) throws -> [Int] {
        let entries = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !(entries.count == 1 && entries[0].isEmpty) else { throw QScopeError("--bits is empty; give widths such as 2,4,8") }
        var widths: [Int] = []
        for entry in entries {
            guard let bits = Int(entry) else { throw QScopeError("--bits '\(text)': '\(entry)' is not an integer bit-width") }
            guard (2...16).contains(bits) else { throw QScopeError("--bits '\(text)': \(bits) is outside 2...16") }
            guard !widths.contains(bits) else { throw QScopeError("--bits '\(text)': \(bits) is given twice") }
            widths.append(bits)
        }
        return widths.sorted()
    }
}
