import Analysis
import Executor

/// The Layers panel: one row per quantizable layer with its choice and what it costs.
///
/// Columns are a table so that a new per-layer figure (as trace and Ω were) is one entry here;
/// the name column takes whatever width is left.
enum LayersTable {
    struct Column: Sendable {
        var title: String
        var width: Int
        var alignRight: Bool
        /// When the table is too narrow, the column with the highest rank goes first.
        var dropRank = 0
        /// Cells at the right end of the column given to a horizontal bar (0: none).
        var barWidth = 0
        /// Cell text and style for layer `i`.
        var cell: @Sendable (AppState, Int) -> (String, Style)
        /// The bar's length (0...1 of `barWidth`) and style for layer `i`; nil draws none.
        var bar: (@Sendable (AppState, Int) -> (fraction: Double, style: Style)?)? = nil
    }

    static let columns: [Column] = [
        Column(title: "op", width: 6, alignRight: false, dropRank: 5) { state, i in (state.model.layers[i].opType, .dim) },
        Column(title: "params", width: 9, alignRight: true, dropRank: 4) { state, i in
            (Text.grouped(state.model.layers[i].parameters), .text)
        },
        Column(title: "bits", width: 4, alignRight: true) { state, i in
            let bits = state.plan.choices[i].weightBits
            return (String(bits), bitsStyle(bits))
        },
        Column(title: "quantizer", width: 12, alignRight: false, dropRank: 6) { state, i in
            (WeightBitsLadder.label(state.plan.choices[i].weights), .text)
        },
        Column(title: "SQNR dB", width: 7, alignRight: true, dropRank: 2) { state, i in
            guard let result = state.layerResult(i) else { return ("…", .dim) }
            return (Format.decibels(result.sqnrDB), sqnrStyle(result.sqnrDB))
        },
        Column(title: "size KiB", width: 8, alignRight: true, dropRank: 3) { state, i in
            guard let result = state.layerResult(i) else { return ("…", .dim) }
            return (Format.kibibytes(bits: result.totalBits), .text)
        },
        SensitivityColumns.trace,
        SensitivityColumns.omega,
    ]

    static func bitsStyle(_ bits: Int) -> Style {
        bits >= 16 ? .text : Style(.heat, level: (8 - min(bits, 8)) * 100 / 6)
    }

    /// Green above 30 dB, yellow 15–30, red below (≈ 5, 2.5, <2.5 effective bits).
    static func sqnrStyle(_ db: Double) -> Style { db >= 30 ? .good : db >= 15 ? .warn : .bad }

    static func render(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.width >= 4, rect.height >= 3 else { return }
        // The edit keys live in the title: the bottom line gives its room to the keys nothing else shows.
        buffer.box(rect, title: "Layers · \(state.layerSort.label) · +/- bits", glyphs: state.glyphs)
        let inner = Rect(x: rect.x + 1, y: rect.y + 1, width: rect.width - 2, height: rect.height - 2)
        // Drop columns, least useful first (`dropRank`), until the name column keeps at least 12 cells.
        var shown = columns
        while !shown.isEmpty, inner.width - 6 - shown.reduce(0, { $0 + $1.width + 1 }) < 12 {
            let first = shown.indices.max { shown[$0].dropRank < shown[$1].dropRank }!
            shown.remove(at: first)
        }
        let nameWidth = inner.width - 6 - shown.reduce(0) { $0 + $1.width + 1 }
        let abbreviation = LayerNameAbbreviation(names: state.model.layers.map(\.name))
        func paintRow(y: Int, number: String, name: String, cells: [(String, Style)], bars: [(fraction: Double, style: Style)?],
                      rowStyle: Style?, nameStyle: Style) {
            if let rowStyle { buffer.fill(Rect(x: inner.x, y: y, width: inner.width, height: 1), style: rowStyle) }
            var x = inner.x
            buffer.put(Text.pad(number, to: 5, alignRight: true), x: x, y: y, style: rowStyle ?? .dim)
            x += 6
            buffer.put(Text.pad(name, to: nameWidth), x: x, y: y, style: rowStyle ?? nameStyle)
            x += nameWidth
            for (c, (column, (text, style))) in zip(shown, cells).enumerated() {
                x += 1
                let textWidth = bars[c] == nil ? column.width : column.width - column.barWidth - 1
                buffer.put(Text.pad(text, to: textWidth, alignRight: column.alignRight), x: x, y: y,
                           style: rowStyle ?? style, maxWidth: textWidth)
                if let bar = bars[c] {
                    SensitivityColumns.paintBar(bar.fraction, x: x + column.width - column.barWidth, y: y, width: column.barWidth,
                                                style: rowStyle ?? bar.style, glyphs: state.glyphs, into: &buffer)
                }
                x += column.width
            }
        }
        paintRow(y: inner.y, number: "#", name: "layer", cells: shown.map { ($0.title, .header) }, bars: shown.map { _ in nil },
                 rowStyle: nil, nameStyle: .header)
        let rows = state.layout.layerRows
        let order = state.layerOrder
        for row in 0..<rows.height {
            guard state.scroll + row < order.count else { break }
            let i = order[state.scroll + row]
            let selected = i == state.selection
            let layer = state.model.layers[i]
            paintRow(y: rows.y + row, number: String(i), name: abbreviation.abbreviate(layer.name, opType: layer.opType, to: nameWidth),
                     cells: shown.map { $0.cell(state, i) }, bars: shown.map { $0.bar?(state, i) },
                     rowStyle: selected ? .selection : nil, nameStyle: .text)
            if selected { buffer.set(x: inner.x, y: rows.y + row, Cell(state.glyphs.selectionMarker, style: .selection)) }
        }
        // Scroll position when not every layer fits.
        let count = state.model.layers.count
        if count > rows.height, rect.width > 20 {
            let label = " \(state.scroll + 1)–\(min(count, state.scroll + rows.height)) of \(count) "
            buffer.put(label, x: rect.maxX - 2 - DisplayWidth.of(label), y: rect.maxY - 1, style: .dim)
        }
    }
}
