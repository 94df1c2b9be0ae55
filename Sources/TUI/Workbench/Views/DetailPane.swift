import Analysis
import Executor

/// The Detail panel: the selected layer's weight statistics and a histogram of its FP32 weights with
/// the quantization grid of its current choice and the k = 3 weight clusters drawn over it; below
/// it, when there are rows enough, the histogram of the layer's input activations
/// (`DetailPane+Sensitivity.swift`).
enum DetailPane {
    static func render(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.width >= 4, rect.height >= 3, state.selection < state.model.layers.count else { return }
        let layer = state.model.layers[state.selection]
        buffer.box(rect, title: "Detail · \(layer.name)", glyphs: state.glyphs)
        let inner = rect.inset(by: 1)
        guard !inner.isEmpty else { return }
        let infoWidth = min(34, max(0, inner.width / 3))
        let (info, plot) = inner.splitLeft(infoWidth)
        renderInfo(state, layer, in: info, into: &buffer)
        let plots = Rect(x: plot.x + 1, y: plot.y, width: plot.width - 1, height: plot.height)
        // Two plots need about 6 rows each (caption, chart, axis); below that, weights only.
        if plots.height >= 12 {
            let (weights, activations) = plots.splitTop((plots.height + 1) / 2)
            renderHistogram(state, layer, in: Rect(x: weights.x, y: weights.y, width: weights.width, height: weights.height - 1),
                            into: &buffer)
            renderActivations(state, in: activations, into: &buffer)
        } else {
            renderHistogram(state, layer, in: plots, into: &buffer)
        }
    }

    static func renderInfo(_ state: AppState, _ layer: ModelSummary.Layer, in rect: Rect, into buffer: inout CellBuffer) {
        let w = layer.weights
        let choice = state.plan.choices[state.selection]
        let result = state.layerResult(state.selection)
        var lines: [(String, String, Style)] = [
            ("op", layer.opType, .text),
            ("shape", Format.shape(layer.weightShape), .text),
            ("params", Text.grouped(layer.parameters), .text),
            ("range", "\(Format.value(w.minimum)) … \(Format.value(w.maximum))", .text),
            ("mean±sd", "\(Format.value(Float(w.mean))) ± \(Format.value(Float(w.standardDeviation)))", .text),
            ("weights", WeightBitsLadder.label(choice.weights), .accent),
        ]
        if let result {
            lines.append(("SQNR", Format.decibels(result.sqnrDB) + " dB", LayersTable.sqnrStyle(result.sqnrDB)))
            lines.append(("size", "\(Format.kibibytes(bits: result.payloadBits)) KiB + meta \(Format.kibibytes(bits: result.totalBits - result.payloadBits))", .text))
        } else {
            lines.append(("SQNR", "…", .dim))
        }
        lines += SensitivityColumns.detailLines(state, state.selection)
        lines += clusterLines(state, state.selection) + activationLines(state, state.selection)
        for (row, (label, value, style)) in lines.prefix(rect.height).enumerated() {
            buffer.put(Text.pad(label, to: 8), x: rect.x, y: rect.y + row, style: .dim, maxWidth: rect.width)
            buffer.put(value, x: rect.x + 9, y: rect.y + row, style: style, maxWidth: rect.width - 9)
        }
    }

    /// Bars (1/8-cell resolution, linear counts) over the weight range; grid levels mark the
    /// columns they fall in; the bottom row labels the range.
    static func renderHistogram(_ state: AppState, _ layer: ModelSummary.Layer, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.width >= 8, rect.height >= 3 else { return }
        let w = layer.weights
        let result = state.layerResult(state.selection)
        let levels = result?.gridLevels ?? []
        let chart = Rect(x: rect.x, y: rect.y + 1, width: rect.width, height: rect.height - 2)
        // Caption: what the grid shows.
        var caption = "FP32 weights"
        if state.plan.choices[state.selection].weights == nil {
            caption += " · float: no grid"
        } else if result == nil {
            caption += " · grid: computing…"
        } else if levels.isEmpty {
            caption += " · grid finer than \(LayerQuantization.maxGridLevels) levels"
        } else if levels.count > chart.width {
            caption += " · \(levels.count) levels (denser than the plot)"
        } else {
            caption += " · \(state.glyphs.gridMark) \(levels.count) levels of the widest channel's grid"
        }
        if state.sensitivity.outliers(state.selection) != nil {
            caption += " · \(clusterGlyphs(state).boundary) k-means bounds \(clusterGlyphs(state).centre) centres"
        }
        buffer.put(caption, x: rect.x, y: rect.y, style: .dim, maxWidth: rect.width)
        guard chart.height >= 1 else { return }

        // Resample the fine histogram to one column per cell.
        let columns = resample(w.histogram, to: chart.width, samples: layer.parameters)
        let peak = max(1, columns.max() ?? 1)
        let eighths = chart.height * 8
        let range = Double(w.maximum) - Double(w.minimum)
        var gridColumns = Set<Int>()
        if !levels.isEmpty, levels.count <= chart.width, range > 0 {
            for v in levels {
                let t = (Double(v) - Double(w.minimum)) / range
                gridColumns.insert(min(chart.width - 1, max(0, Int(t * Double(chart.width)))))
            }
        }
        let bars = state.glyphs.bars
        for (c, count) in columns.enumerated() {
            let height = count == 0 ? 0 : max(1, count * eighths / peak)
            let onGrid = gridColumns.contains(c)
            for row in 0..<chart.height {
                let y = chart.maxY - 1 - row
                let filled = min(8, max(0, height - row * 8))
                if filled > 0 {
                    buffer.set(x: chart.x + c, y: y, Cell(bars[filled], style: onGrid ? Style(.grid) : Style(.bar)))
                } else if onGrid {
                    buffer.set(x: chart.x + c, y: y, Cell(state.glyphs.gridMark, style: Style(.grid)))
                }
            }
        }
        if let clusters = state.sensitivity.outliers(state.selection) {
            paintClusters(state, clusters, chart: chart, minimum: Double(w.minimum), maximum: Double(w.maximum), into: &buffer)
        }
        // Axis labels: minimum, zero (when inside the range), maximum.
        let axisY = rect.maxY - 1
        let lo = Format.value(w.minimum), hi = Format.value(w.maximum)
        buffer.put(lo, x: rect.x, y: axisY, style: .dim, maxWidth: rect.width)
        if w.minimum < 0, w.maximum > 0, range > 0 {
            let zero = rect.x + Int(-Double(w.minimum) / range * Double(chart.width))
            if zero > rect.x + DisplayWidth.of(lo) + 1, zero < rect.maxX - DisplayWidth.of(hi) - 2 {
                buffer.put("0", x: zero, y: axisY, style: .dim)
            }
        }
        buffer.put(hi, x: rect.maxX - DisplayWidth.of(hi), y: axisY, style: .dim)
    }

    /// Histogram counts per plot column. Coarse bins merge a whole number of fine bins (a divisor of
    /// the fine count: uneven merging would alias into a comb); small layers get coarser bins (about
    /// 8 weights per bin) so the shape is not lost in noise; a bin wider than a column repeats.
    static func resample(_ fine: [Int], to width: Int, samples: Int) -> [Int] {
        guard width > 0, !fine.isEmpty else { return [] }
        let limit = max(1, min(width, fine.count, samples / 8))
        let bins = (1...limit).last { fine.count % $0 == 0 } ?? 1
        var coarse = [Int](repeating: 0, count: bins)
        for (i, count) in fine.enumerated() { coarse[i * bins / fine.count] += count }
        return (0..<width).map { coarse[$0 * bins / width] }
    }
}
