/// A grid of cells that views paint into; the whole screen is one buffer per frame.
///
/// Every write is clipped to the buffer and to the rect it is given, so views can never paint
/// outside their area or crash on a tiny terminal (0x0 and 1x1 included).
public struct CellBuffer: Equatable, Sendable {
    public private(set) var size: Size
    public private(set) var cells: [Cell]

    public init(size: Size, fill: Cell = .blank) {
        self.size = size
        self.cells = Array(repeating: fill, count: size.width * size.height)
    }

    public var area: Rect { Rect(size: size) }

    public subscript(x: Int, y: Int) -> Cell {
        get { cells[y * size.width + x] }
        set { cells[y * size.width + x] = newValue }
    }

    /// Sets one cell if it lies inside the buffer.
    public mutating func set(x: Int, y: Int, _ cell: Cell) {
        guard x >= 0, y >= 0, x < size.width, y < size.height else { return }
        cells[y * size.width + x] = cell
    }

    /// Fills `rect` with `glyph` in `style`.
    public mutating func fill(_ rect: Rect, glyph: Character = " ", style: Style = .text) {
        let clipped = rect.clipped(to: area)
        for y in clipped.y..<clipped.maxY {
            for x in clipped.x..<clipped.maxX { cells[y * size.width + x] = Cell(glyph, style: style) }
        }
    }

    /// Restyles every cell of `rect`, keeping the glyphs.
    public mutating func restyle(_ rect: Rect, _ style: Style) {
        let clipped = rect.clipped(to: area)
        for y in clipped.y..<clipped.maxY {
            for x in clipped.x..<clipped.maxX { cells[y * size.width + x].style = style }
        }
    }

    /// Writes `text` from (x, y) on one line, at most `maxWidth` columns (and never past the
    /// buffer's edge); a double-width glyph that would not fit whole is replaced by a space.
    /// Control characters are shown as U+FFFD. Returns the number of columns written.
    @discardableResult
    public mutating func put(_ text: String, x: Int, y: Int, style: Style = .text, maxWidth: Int = Int.max) -> Int {
        guard y >= 0, y < size.height else { return 0 }
        let limit = x + min(max(0, maxWidth), max(0, size.width - x))  // no overflow for maxWidth = .max
        var column = x
        for character in text {
            var glyph = character
            var width = DisplayWidth.of(character)
            if width == 0 {
                guard let scalar = character.unicodeScalars.first, scalar.value < 0x20 || scalar.value == 0x7F else { continue }
                glyph = "\u{FFFD}"
                width = 1
            }
            if column + width > limit {
                if width == 2 && column < limit { set(x: column, y: y, Cell(" ", style: style)) ; column += 1 }
                break
            }
            if column >= 0 {
                set(x: column, y: y, Cell(glyph, style: style))
                if width == 2 { set(x: column + 1, y: y, Cell(" ", style: style, isContinuation: true)) }
            }
            column += width
        }
        return max(0, column - x)
    }

    /// Writes `text` into `rect`'s first row, truncated with "…" when it does not fit, padded with
    /// spaces in `style` to the rect's width when `pad` is set; aligned left or right.
    public mutating func putLine(_ text: String, in rect: Rect, style: Style = .text, alignRight: Bool = false, pad: Bool = false) {
        guard !rect.isEmpty else { return }
        if pad { fill(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), style: style) }
        let fitted = Text.truncate(text, to: rect.width)
        let width = DisplayWidth.of(fitted)
        let x = alignRight ? rect.maxX - width : rect.x
        put(fitted, x: x, y: rect.y, style: style, maxWidth: rect.maxX - x)
    }

    /// Draws a single-line box around `rect` with an optional title in its top border.
    public mutating func box(_ rect: Rect, title: String? = nil, style: Style = .border, titleStyle: Style = .accent,
                             glyphs: GlyphSet = .unicode) {
        guard rect.width >= 2, rect.height >= 2 else { return }
        let g = glyphs.box
        for x in rect.x + 1..<rect.maxX - 1 {
            set(x: x, y: rect.y, Cell(g.horizontal, style: style))
            set(x: x, y: rect.maxY - 1, Cell(g.horizontal, style: style))
        }
        for y in rect.y + 1..<rect.maxY - 1 {
            set(x: rect.x, y: y, Cell(g.vertical, style: style))
            set(x: rect.maxX - 1, y: y, Cell(g.vertical, style: style))
        }
        set(x: rect.x, y: rect.y, Cell(g.topLeft, style: style))
        set(x: rect.maxX - 1, y: rect.y, Cell(g.topRight, style: style))
        set(x: rect.x, y: rect.maxY - 1, Cell(g.bottomLeft, style: style))
        set(x: rect.maxX - 1, y: rect.maxY - 1, Cell(g.bottomRight, style: style))
        if let title, rect.width > 4 {
            put(" \(Text.truncate(title, to: rect.width - 4)) ", x: rect.x + 1, y: rect.y, style: titleStyle, maxWidth: rect.width - 2)
        }
    }

    /// The buffer as plain text, one line per row, trailing spaces kept (continuation cells are
    /// omitted so that a wide glyph counts once).
    public var text: String {
        var lines: [String] = []
        lines.reserveCapacity(size.height)
        for y in 0..<size.height {
            var line = ""
            for x in 0..<size.width where !self[x, y].isContinuation { line.append(self[x, y].glyph) }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

extension Rect {
    /// The intersection with `other` (empty when they do not overlap).
    public func clipped(to other: Rect) -> Rect {
        let x0 = max(x, other.x), y0 = max(y, other.y)
        let x1 = min(maxX, other.maxX), y1 = min(maxY, other.maxY)
        return Rect(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
}
