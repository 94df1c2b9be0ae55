/// The one plain-text table writer of the reports (`qscope info`, `compare`, `analyze`, `search`,
/// `pareto`): columns of cells, aligned left or right, with spaces between them.
///
/// A column is either sized to its widest cell (header included) or has a fixed width; a cell wider
/// than a fixed width is not cut, it pushes the rest of its row right (the fixed-width listings
/// always printed whole numbers). Widths count Unicode scalars, which is right for the ASCII, Greek
/// and Latin text these listings hold. Lines never end in spaces.
public struct ReportTable: Sendable {
    /// How a column's cells share its width.
    public enum Alignment: Sendable {
        case left, right
    }

    /// How wide a column is.
    public enum Width: Sendable, Equatable {
        /// As wide as its widest cell or header.
        case fit
        /// Exactly this many columns; wider cells overflow.
        case fixed(Int)
    }

    public struct Column: Sendable {
        /// The header cell ("" for none). Headers may carry spaces of their own, to sit where an
        /// existing listing has always put them.
        public var header: String
        public var alignment: Alignment
        public var width: Width
        /// Spaces written before this column (ignored for the first column).
        public var gap: Int

        public init(_ header: String = "", _ alignment: Alignment = .left, width: Width = .fit, gap: Int = 2) {
            self.header = header
            self.alignment = alignment
            self.width = width
            self.gap = gap
        }
    }

    public var columns: [Column]
    public var rows: [[String]] = []
    /// Print the header line (the column headers) first.
    public var showsHeader: Bool
    /// Under the header, a rule of dashes as wide as each column.
    public var showsRule: Bool

    public init(columns: [Column], showsHeader: Bool = true, showsRule: Bool = false) {
        self.columns = columns
        self.showsHeader = showsHeader
        self.showsRule = showsRule
    }

    /// A table of fitted columns, two spaces apart, the `alignRight` ones (by index) right-aligned,
    /// with a header and a rule of dashes under it.
    public init(headers: [String], alignRight: Set<Int> = [], rule: Bool = true) {
        self.init(columns: headers.enumerated().map { index, header in
            Column(header, alignRight.contains(index) ? .right : .left)
        }, showsRule: rule)
    }

    public mutating func append(_ row: [String]) { rows.append(row) }

    /// The table as lines: the header (and rule) when shown, then one line per row. Missing cells
    /// at the end of a row are empty.
    public func render() -> [String] {
        let widths = columns.indices.map { index -> Int in
            switch columns[index].width {
            case .fixed(let width): return width
            case .fit:
                let cells = (showsHeader ? [columns[index].header] : []) + rows.map { index < $0.count ? $0[index] : "" }
                return cells.map(\.unicodeScalars.count).max() ?? 0
            }
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, column) in columns.enumerated() {
                let cell = index < cells.count ? cells[index] : ""
                if index > 0 { text += String(repeating: " ", count: column.gap) }
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.unicodeScalars.count))
                text += column.alignment == .right ? padding + cell : cell + padding
            }
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        var lines: [String] = []
        if showsHeader { lines.append(line(columns.map(\.header))) }
        if showsRule {
            lines.append(line(widths.map { String(repeating: "-", count: $0) }))
        }
        return lines + rows.map(line)
    }
}
