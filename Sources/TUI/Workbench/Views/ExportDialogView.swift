import Analysis
import Executor

/// The `e` dialog, centred over the screen: the formats (the chosen one marked), the path being
/// edited and the keys.
enum ExportDialogView {
    static let descriptions: [Exporter.Format: String] = [
        .onnxQDQ: "ONNX with QuantizeLinear/DequantizeLinear",
        .aimet: "AIMET quantization encodings 1.0.0",
        .ortOverrides: "ONNX Runtime TensorQuantOverrides",
        .plan: "qscope plan file",
    ]

    static func render(_ state: AppState, _ dialog: ExportDialog, in area: Rect, into buffer: inout CellBuffer) {
        let formats = Exporter.Format.allCases
        let rect = area.centred(width: min(area.width - 2, 76), height: formats.count + 6)
        guard rect.width >= 30, rect.height >= formats.count + 5 else { return }
        buffer.fill(rect, style: .overlay)
        buffer.box(rect, title: "Export plan", style: Style(.overlay), titleStyle: .accent, glyphs: state.glyphs)
        let inner = rect.inset(by: 1)
        let nameWidth = formats.map { DisplayWidth.of($0.rawValue) }.max() ?? 0
        for (i, format) in formats.enumerated() {
            let y = inner.y + i
            let chosen = format == dialog.format
            var x = inner.x + buffer.put(i == 0 ? " format " : "        ", x: inner.x, y: y, style: Style(.overlay, attributes: .dim))
            x += buffer.put(chosen ? String(state.glyphs.selectionMarker) + " " : "  ", x: x, y: y, style: .accent)
            x += buffer.put(Text.pad(format.rawValue, to: nameWidth), x: x, y: y,
                            style: chosen ? Style(.accent, attributes: .bold) : .overlay)
            buffer.put("  " + (descriptions[format] ?? ""), x: x, y: y, style: Style(.overlay, attributes: .dim), maxWidth: inner.maxX - x)
        }
        let pathRow = inner.y + formats.count + 1
        var x = inner.x + buffer.put(" path   ", x: inner.x, y: pathRow, style: Style(.overlay, attributes: .dim))
        let room = inner.maxX - x - 1
        var text = dialog.path
        while DisplayWidth.of(text) > room, !text.isEmpty { text.removeFirst() }
        x += buffer.put(text, x: x, y: pathRow, style: .overlay, maxWidth: room)
        buffer.set(x: x, y: pathRow, Cell("▏", style: .accent))
        let hints = "Tab/←→ format · type to edit the path · Enter write · Esc cancel"
        buffer.putLine(hints, in: Rect(x: inner.x + 1, y: inner.maxY - 1, width: inner.width - 1, height: 1),
                       style: Style(.overlay, attributes: .dim))
    }
}
