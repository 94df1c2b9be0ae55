/// The `?` overlay: every binding of the keymap, grouped, generated from the same table the reducer
/// uses.
enum HelpOverlay {
    static func lines(_ keymap: Keymap) -> [(keys: String, help: String)] {
        var out: [(String, String)] = []
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

    static func render(_ state: AppState, keymap: Keymap, in area: Rect, into buffer: inout CellBuffer) {
        let content = lines(keymap)
        let keyWidth = content.map { DisplayWidth.of($0.keys) }.max() ?? 0
        let helpWidth = content.map { DisplayWidth.of($0.help) }.max() ?? 0
        let rect = area.centred(width: keyWidth + helpWidth + 7, height: content.count + 4)
        guard rect.width >= 10, rect.height >= 4 else { return }
        buffer.fill(rect, style: .overlay)
        buffer.box(rect, title: "Keys", style: Style(.overlay), titleStyle: .accent, glyphs: state.glyphs)
        let inner = rect.inset(by: 1)
        for (row, line) in content.enumerated() where row + 1 < inner.height {
            let y = inner.y + 1 + row
            buffer.put(Text.pad(line.keys, to: keyWidth, alignRight: true), x: inner.x + 1, y: y, style: Style(.accent), maxWidth: inner.width - 1)
            buffer.put(line.help, x: inner.x + keyWidth + 3, y: y, style: .overlay, maxWidth: inner.maxX - inner.x - keyWidth - 3)
        }
        buffer.putLine("any key closes", in: Rect(x: inner.x, y: rect.maxY - 1, width: inner.width - 1, height: 1),
                       style: Style(.overlay, attributes: .dim), alignRight: true)
    }
}
