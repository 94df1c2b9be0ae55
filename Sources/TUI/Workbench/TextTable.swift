/// A plain-text table for the headless listings (`qscope info`, `qscope compare`...).
///
/// Columns are sized to their widest cell; numeric columns (`alignRight`) are right-aligned so that
/// digits line up. Widths count Unicode scalars, which is right for the ASCII and Latin text these
/// listings hold.
public struct TextTable: Sendable {
    public var headers: [String]
    public var rows: [[String]] = []
    /// Columns to right-align (by index).
    public var alignRight: Set<Int>

    public init(headers: [String], alignRight: Set<Int> = []) {
        self.headers = headers
        self.alignRight = alignRight
    }

    public mutating func append(_ row: [String]) { rows.append(row) }

    /// The table as lines: header, a rule of dashes, then the rows; two spaces between columns and no
    /// trailing spaces.
    public func render() -> [String] {
        let columns = max(headers.count, rows.map(\.count).max() ?? 0)
        var widths = [Int](repeating: 0, count: columns)
        for row in [headers] + rows {
            for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.unicodeScalars.count) }
        }
        func line(_ cells: [String]) -> String {
            var parts: [String] = []
            for i in 0..<columns {
                let cell = i < cells.count ? cells[i] : ""
                let pad = String(repeating: " ", count: widths[i] - cell.unicodeScalars.count)
                parts.append(alignRight.contains(i) ? pad + cell : cell + pad)
            }
            var text = parts.joined(separator: "  ")
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        return [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line)
    }
}
