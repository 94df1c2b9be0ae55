/// The `?` overlay: every context's table of the keymap under its heading, generated from the same
/// tables the reducer resolves keys with.
///
/// It fits any screen from the minimum size up: one column when it is tall enough, else two columns
/// split between two contexts when they fit side by side, else one column that scrolls (↑/↓,
/// PgUp/PgDn) with the visible range in the bottom hint.
enum HelpOverlay {
    /// One line of the overlay: a context's heading, a binding (keys and help) or a blank separator.
    struct Line: Equatable {
        enum Kind { case heading, binding, blank }
        var kind: Kind
        var keys = ""
        var help = ""

        static let blank = Line(kind: .blank)
    }

    static func lines(_ keymap: Keymap) -> [Line] {
        var out: [Line] = []
        for table in keymap.tables {
            if !out.isEmpty { out.append(.blank) }
            out.append(Line(kind: .heading, help: table.context.title))
            out += table.entries.map { Line(kind: .binding, keys: $0.keys, help: $0.help) }
        }
        out.append(.blank)
        out.append(Line(kind: .binding, keys: "mouse", help: "click selects a layer, wheel scrolls"))
        for (heading, entries) in [("Columns", columnLegend), ("Colours", colourLegend)] {
            out.append(.blank)
            out.append(Line(kind: .heading, help: heading))
            out += entries.map { Line(kind: .binding, keys: $0.0, help: $0.1) }
        }
        return out
    }

    /// What the Layers table's columns and the Detail pane's figures mean, with their units.
    static let columnLegend: [(String, String)] = [
        ("bits", "code width of the layer's weights (16+: float)"),
        ("SQNR dB", "10·log10(‖W‖² / ‖Q(W) − W‖²) of the weights"),
        ("size KiB", "the layer's weights with scales and codebooks"),
        ("trace", "Hessian trace of the loss in this weight (Hutchinson)"),
        ("Ω", "trace/#params × ‖Q(W) − W‖²: predicted loss increase"),
        ("levels", "grid values of the widest channel (Detail histogram)"),
        ("…", "being computed; dim: estimate still moving"),
    ]

    /// What the colours say (with NO_COLOR the same roles show as bold, dim or plain).
    static let colourLegend: [(String, String)] = [
        ("green", "SQNR ≥ 30 dB; status metric as good as FP32's"),
        ("yellow", "SQNR 15–30 dB; metric a little below FP32's"),
        ("red", "SQNR < 15 dB; metric well below FP32's; errors"),
        ("heat", "bits and trace bars: warmer = fewer bits, larger trace"),
    ]

    /// How the lines are laid out in `area`.
    struct Layout {
        var columns: [[Line]]
        /// Rows of lines shown (less than the line count when scrolling).
        var visibleRows: Int
        var scrollable: Bool
        var rect: Rect
        var maxScroll: Int
    }

    /// The widths of a column's keys and help; a heading starts at the keys and may reach into the
    /// help's width, which grows when the heading is longer than both.
    static func columnWidth(_ lines: [Line]) -> (keys: Int, help: Int) {
        let bindings = lines.filter { $0.kind == .binding }
        let keys = bindings.map { DisplayWidth.of($0.keys) }.max() ?? 0
        let help = bindings.map { DisplayWidth.of($0.help) }.max() ?? 0
        let heading = lines.filter { $0.kind == .heading }.map { DisplayWidth.of($0.help) }.max() ?? 0
        return (keys, max(help, heading - keys - 2))
    }

    static func layout(_ keymap: Keymap, in area: Rect) -> Layout {
        let content = lines(keymap)
        let maxRows = max(1, area.height - 4)
        let single = columnWidth(content)
        let singleWidth = single.keys + single.help + 7
        if content.count <= maxRows {
            return Layout(columns: [content], visibleRows: content.count, scrollable: false,
                          rect: area.centred(width: singleWidth, height: content.count + 4), maxScroll: 0)
        }
        // Two columns, split at a blank line between two contexts: the split with the shorter
        // taller column that fits.
        let splits = content.indices.filter { content[$0].kind == .blank }
            .sorted { max($0, content.count - 1 - $0) < max($1, content.count - 1 - $1) }
        for split in splits {
            let left = Array(content[..<split]), right = Array(content[(split + 1)...])
            let (l, r) = (columnWidth(left), columnWidth(right))
            let width = l.keys + l.help + r.keys + r.help + 13
            let rows = max(left.count, right.count)
            if rows <= maxRows, width <= area.width {
                return Layout(columns: [left, right], visibleRows: rows, scrollable: false,
                              rect: area.centred(width: width, height: rows + 4), maxScroll: 0)
            }
        }
        return Layout(columns: [content], visibleRows: maxRows, scrollable: true,
                      rect: area.centred(width: singleWidth, height: maxRows + 4), maxScroll: content.count - maxRows)
    }

    static func render(_ state: AppState, keymap: Keymap, in area: Rect, into buffer: inout CellBuffer) {
        let layout = layout(keymap, in: area)
        let rect = layout.rect
        guard rect.width >= 10, rect.height >= 4 else { return }
        buffer.fill(rect, style: .overlay)
        buffer.box(rect, title: "Keys", style: Style(.overlay), titleStyle: .accent, glyphs: state.glyphs)
        let inner = rect.inset(by: 1)
        let scroll = layout.scrollable ? min(max(0, state.helpScroll), layout.maxScroll) : 0
        var x = inner.x + 1
        for column in layout.columns {
            let (keyWidth, helpWidth) = columnWidth(column)
            for (row, line) in column.dropFirst(scroll).prefix(layout.visibleRows).enumerated() {
                let y = inner.y + 1 + row
                switch line.kind {
                case .blank:
                    break
                case .heading:
                    buffer.put(line.help, x: x, y: y, style: Style(.accent, attributes: .bold), maxWidth: inner.maxX - x)
                case .binding:
                    buffer.put(Text.pad(line.keys, to: keyWidth, alignRight: true), x: x, y: y, style: Style(.accent),
                               maxWidth: inner.maxX - x)
                    buffer.put(line.help, x: x + keyWidth + 2, y: y, style: .overlay,
                               maxWidth: inner.maxX - x - keyWidth - 2)
                }
            }
            x += keyWidth + helpWidth + 6
        }
        let total = layout.columns[0].count
        let hint = layout.scrollable
            ? "↑↓ PgDn scroll · \(scroll + 1)–\(min(total, scroll + layout.visibleRows)) of \(total) · other keys close"
            : "any key closes"
        buffer.putLine(hint, in: Rect(x: inner.x, y: rect.maxY - 1, width: inner.width - 1, height: 1),
                       style: Style(.overlay, attributes: .dim), alignRight: true)
    }
}
