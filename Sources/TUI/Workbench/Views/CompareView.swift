import Analysis
import Executor

/// The Compare view (in the Detail panel's place): for the compared layer, one row per quantizer
/// family at its bit-width with the columns of `qscope compare --layer` (bits/weight with metadata,
/// size, weight SQNR, output SQNR vs FP32, accuracy, Δ vs FP32, seconds); rows not computed yet
/// show `…`. The cursor row (`▶`, highlighted) is what Enter applies; `●` marks the layer's current
/// quantizer.
enum CompareView {
    struct Column: Sendable {
        var title: String
        var width: Int
        /// Cell text and style for a computed row.
        var cell: @Sendable (QuantizerComparison.Row) -> (String, Style)
    }

    /// The columns for rows scored by `headline`: accuracy (or agreement) in % and its change in
    /// points, or the cosine, SQNR or KL to FP32 and its change.
    static func columns(_ headline: FidelityMetric?) -> [Column] {
        let common: [Column] = [
            Column(title: "bits/w", width: 6) { (Text.fixed($0.bitsPerWeight, 3), .text) },
            Column(title: "size KiB", width: 8) { (Text.fixed($0.sizeMB * 1024, 2), .text) },
            Column(title: "W SQNR", width: 6) { (Format.decibels($0.weightSQNR), LayersTable.sqnrStyle($0.weightSQNR)) },
            Column(title: "out SQNR", width: 8) { (Format.decibels($0.outputSQNR), LayersTable.sqnrStyle($0.outputSQNR)) },
        ]
        let seconds = Column(title: "s", width: 5) { (Text.fixed($0.seconds, 2), .dim) }
        switch headline {
        case .cosine?, .kl?:
            let metric = headline!
            return common + [
                Column(title: metric == .kl ? "KL" : "cos", width: 7) { row in (row.score.map { Text.fixed($0, 5) } ?? "n/a", .text) },
                Column(title: "Δ", width: 8) { row in
                    guard let delta = row.scoreDelta else { return ("n/a", .dim) }
                    let worse = metric.higherIsBetter ? -delta : delta
                    return ((delta >= 0 ? "+" : "−") + Text.fixed(abs(delta), 5), worse > 0.01 ? .bad : worse > 0.001 ? .warn : .good)
                },
                seconds,
            ]
        case .sqnr?:
            return common + [seconds]  // the output SQNR column is the headline
        default:
            return common + [
                Column(title: "acc %", width: 6) { row in
                    let value = row.accuracy ?? (row.headline == .agreement ? row.score : nil)
                    return (value.map { Text.fixed($0 * 100, 2) } ?? "n/a", .text)
                },
                Column(title: "Δ pp", width: 6) { row in
                    guard let delta = row.delta ?? (row.headline == .agreement ? row.scoreDelta : nil) else { return ("n/a", .dim) }
                    let text = Text.fixed(abs(delta) * 100, 2)
                    return (text == "0.00" ? "±0.00" : (delta < 0 ? "−" : "+") + text, delta < -0.005 ? .bad : delta < 0 ? .warn : .good)
                },
                seconds,
            ]
        }
    }

    /// The first row shown so that the cursor stays visible in `visible` rows.
    static func firstRow(cursor: Int, count: Int, visible: Int) -> Int {
        guard visible > 0, count > visible else { return 0 }
        return min(max(0, cursor - visible + 1), count - visible)
    }

    static func render(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        guard let compare = state.compare, rect.width >= 4, rect.height >= 3,
              compare.layer < state.model.layers.count else { return }
        let layer = state.model.layers[compare.layer]
        let progress = compare.error != nil ? "failed" : compare.finished ? "done"
            : "\(compare.done)/\(compare.quantizers.count)…"
        buffer.box(rect, title: "Compare · \(layer.name) · \(compare.bits) bits · \(progress)", glyphs: state.glyphs)
        let inner = rect.inset(by: 1)
        guard inner.height >= 2, inner.width >= 8 else { return }
        // Columns from the left until the name keeps 14 cells.
        var shown = columns(compare.rows.compactMap { $0 }.first?.headline)
        while !shown.isEmpty, inner.width - 3 - shown.reduce(0, { $0 + $1.width + 1 }) < 14 { shown.removeLast() }
        let nameWidth = inner.width - 3 - shown.reduce(0) { $0 + $1.width + 1 }
        let current = state.plan.choices[compare.layer].weights?.description
        func paint(y: Int, marker: String, name: String, cells: [(String, Style)], rowStyle: Style?, nameStyle: Style) {
            if let rowStyle { buffer.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style: rowStyle) }
            buffer.put(marker, x: inner.x, y: y, style: rowStyle ?? .accent, maxWidth: 2)
            var x = inner.x + 3
            buffer.put(Text.pad(Text.truncate(name, to: nameWidth), to: nameWidth), x: x, y: y, style: rowStyle ?? nameStyle)
            x += nameWidth
            for (column, (text, style)) in zip(shown, cells) {
                x += 1
                buffer.put(Text.pad(Text.truncate(text, to: column.width), to: column.width, alignRight: true), x: x, y: y,
                           style: rowStyle ?? style)
                x += column.width
            }
        }
        paint(y: inner.y, marker: "  ", name: "quantizer (others FP32)", cells: shown.map { ($0.title, .header) },
              rowStyle: nil, nameStyle: .header)
        // The last line says how to use the view (or why it stopped).
        let footer = Rect(x: inner.x, y: inner.maxY - 1, width: inner.width, height: 1)
        let visible = inner.height - 2
        let first = firstRow(cursor: compare.cursor, count: compare.quantizers.count, visible: visible)
        for slot in 0..<max(0, visible) {
            let index = first + slot
            guard index < compare.quantizers.count else { break }
            let name = compare.quantizers[index]
            let row = compare.rows[index]
            let label = name + (row?.fisherWeighted == true ? " (Fisher)" : "")
            let cells = row.map { r in shown.map { $0.cell(r) } } ?? shown.map { _ in ("…", Style.dim) }
            let marker = (index == compare.cursor ? String(state.glyphs.selectionMarker) : " ") + (name == current ? "●" : " ")
            paint(y: inner.y + 1 + slot, marker: marker, name: label, cells: cells,
                  rowStyle: index == compare.cursor ? .selection : nil, nameStyle: row == nil ? .dim : .text)
        }
        if let error = compare.error {
            buffer.putLine(error, in: footer, style: .bad)
        } else {
            let more = compare.quantizers.count > visible ? " · \(first + 1)–\(min(compare.quantizers.count, first + visible)) of \(compare.quantizers.count)" : ""
            buffer.putLine("↑↓ row · enter apply · ←→ layer · esc close\(more)", in: footer, style: .dim)
        }
    }
}
