/// The `?` overlay: every binding of the keymap, grouped, generated from the same table the reducer
/// uses.
///
/// It fits any screen from the minimum size up: one column when it is tall enough, else two columns
/// split at a group boundary when they fit side by side, else one column that scrolls (↑/↓, PgUp/PgDn)
/// with the visible range in the bottom hint.
enum HelpOverlay {
    typealias Line = (keys: String, help: String)

    static func lines(_ keymap: Keymap) -> [Line] {
        var out: [Line] = []
        var group = ""
        for binding in keymap.bindings + Keymap.compareView.bindings {
            if binding.group != group {
                if !out.isEmpty { out.append(("", "")) }
                group = binding.group
            }
            out.append((binding.keys.map(\.displayName).joined(separator: " "), binding.help))
        }
        out.append(("", ""))
        out.append(("mouse", "click selects a layer, wheel scrolls"))
        return out
    }

    /// How the lines are laid out in `area`.
    struct Layout {
        var columns: [[Line]]
        /// Rows of lines shown (less than the line count when scrolling).
        var visibleRows: Int
        var scrollable: Bool
        var rect: Rect
        var maxScroll: Int
    }

    static func columnWidth(_ lines: [Line]) -> (keys: Int, help: Int) {
        (lines.map { DisplayWidth.of($0.keys) }.max() ?? 0, lines.map { DisplayWidth.of($0.help) }.max() ?? 0)
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
        // Two columns: split at the group boundary (a blank line) closest to the middle.
        let blanks = content.indices.filter { content[$0].keys.isEmpty && content[$0].help.isEmpty }
        if let split = blanks.min(by: { abs($0 - content.count / 2) < abs($1 - content.count / 2) }) {
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
                buffer.put(Text.pad(line.keys, to: keyWidth, alignRight: true), x: x, y: y, style: Style(.accent),
                           maxWidth: inner.maxX - x)
                buffer.put(line.help, x: x + keyWidth + 2, y: y, style: .overlay, maxWidth: inner.maxX - x - keyWidth - 2)
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
