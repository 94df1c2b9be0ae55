import Analysis
import Executor

/// The detail pane's sensitivity parts: the k = 3 weight clusters over the weight histogram, the
/// input activation histogram with its asymmetry, and their numbers in the info column.
extension DetailPane {
    static func clusterGlyphs(_ state: AppState) -> (boundary: Character, centre: Character) {
        state.glyphs == .ascii ? ("|", "^") : ("│", "▲")
    }

    /// The column of `value` on a chart of `width` cells spanning [minimum, maximum] (nil outside).
    static func column(of value: Double, minimum: Double, maximum: Double, width: Int) -> Int? {
        let range = maximum - minimum
        guard range > 0, value >= minimum, value <= maximum else { return nil }
        return min(width - 1, max(0, Int((value - minimum) / range * Double(width))))
    }

    /// Boundaries t1, t2 as vertical rules (over bars: the bar cell takes the accent colour); the
    /// three centres as markers on the chart's bottom row's axis line (the row below the chart).
    static func paintClusters(_ state: AppState, _ clusters: OutlierClusters, chart: Rect, minimum: Double, maximum: Double,
                              into buffer: inout CellBuffer) {
        let glyphs = clusterGlyphs(state)
        for boundary in [clusters.lowerBoundary, clusters.upperBoundary] {
            guard let c = column(of: boundary, minimum: minimum, maximum: maximum, width: chart.width) else { continue }
            for y in chart.y..<chart.maxY {
                let cell = buffer[chart.x + c, y]
                if cell.glyph == " " || cell.glyph == state.glyphs.gridMark {
                    buffer.set(x: chart.x + c, y: y, Cell(glyphs.boundary, style: .accent))
                } else {
                    buffer.set(x: chart.x + c, y: y, Cell(cell.glyph, style: .accent))
                }
            }
        }
        for cluster in clusters.clusters {
            guard let c = column(of: cluster.center, minimum: minimum, maximum: maximum, width: chart.width) else { continue }
            buffer.set(x: chart.x + c, y: chart.maxY, Cell(glyphs.centre, style: .accent))
        }
    }

    /// Caption, bars (linear counts) over [min, max] of the input activations, axis labels.
    static func renderActivations(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.width >= 8, rect.height >= 3 else { return }
        guard let a = state.sensitivity.activations(state.selection) else {
            let text: String
            switch state.sensitivity.phase {
            case .failed: text = "input activations: analysis failed"
            case .waiting: text = "input activations: after the first accuracy"
            default: text = "input activations: computing…"
            }
            buffer.put(text, x: rect.x, y: rect.y, style: .dim, maxWidth: rect.width)
            return
        }
        let asymmetry = a.asymmetry.isInfinite ? "∞" : Text.fixed(a.asymmetry, 2)
        let chart = Rect(x: rect.x, y: rect.y + 1, width: rect.width, height: rect.height - 2)
        let columns = resample(a.histogram, to: max(1, chart.width), samples: a.count)
        let (peak, clipped) = activationPeak(columns)
        var caption = "input activations · \(Text.grouped(a.samples)) samples · |min|/max \(asymmetry) · "
            + "\(Text.fixed(a.negativeFraction * 100, 1))% negative"
        if clipped { caption += " · top bar clipped" }
        buffer.put(caption, x: rect.x, y: rect.y, style: .dim, maxWidth: rect.width)
        guard chart.height >= 1 else { return }
        let eighths = chart.height * 8
        let bars = state.glyphs.bars
        for (c, count) in columns.enumerated() {
            let height = count == 0 ? 0 : min(eighths, max(1, count * eighths / peak))
            for row in 0..<chart.height {
                let filled = min(8, max(0, height - row * 8))
                // A clipped bar is drawn in the accent colour so that it does not read as exact.
                let style = count > peak ? Style.accent : Style(.bar)
                if filled > 0 { buffer.set(x: chart.x + c, y: chart.maxY - 1 - row, Cell(bars[filled], style: style)) }
            }
        }
        let axisY = rect.maxY - 1
        let lo = Format.value(Float(a.minimum)), hi = Format.value(Float(a.maximum))
        buffer.put(lo, x: rect.x, y: axisY, style: .dim, maxWidth: rect.width)
        if a.minimum < 0, a.maximum > 0, let zero = column(of: 0, minimum: a.minimum, maximum: a.maximum, width: chart.width),
           zero > DisplayWidth.of(lo) + 1, zero < rect.width - DisplayWidth.of(hi) - 2 {
            buffer.put("0", x: rect.x + zero, y: axisY, style: .dim)
        }
        buffer.put(hi, x: rect.maxX - DisplayWidth.of(hi), y: axisY, style: .dim)
    }

    /// The count that fills the chart's height. After a ReLU most inputs are exactly 0 and that one
    /// bin would flatten the rest into a single row: when the tallest column is more than 4× the
    /// next one, the scale is 1.5× the next one and the tallest is clipped (`clipped` true).
    static func activationPeak(_ columns: [Int]) -> (peak: Int, clipped: Bool) {
        let sorted = columns.sorted(by: >)
        guard let first = sorted.first, first > 0 else { return (1, false) }
        // Wide bins repeat over several columns: the runner-up is the tallest smaller column.
        guard let second = sorted.first(where: { $0 < first }), second > 0, first > 4 * second else { return (first, false) }
        return (max(1, second * 3 / 2), true)
    }

    /// "clusters −0.21 · 0.00 · 0.19", "bounds t1 … t2 …", "outliers IQR n · 3σ n".
    static func clusterLines(_ state: AppState, _ i: Int) -> [(String, String, Style)] {
        guard let o = state.sensitivity.outliers(i) else { return [] }
        return [
            ("centres", o.clusters.map { Format.value(Float($0.center)) }.joined(separator: " · "), .text),
            ("counts", o.clusters.map { Text.grouped($0.count) }.joined(separator: " · "), .text),
            ("bounds", "\(Format.value(Float(o.lowerBoundary))) · \(Format.value(Float(o.upperBoundary)))", .text),
            ("outliers", "IQR \(Text.grouped(o.iqrOutliers)) · 3σ \(Text.grouped(o.sigmaOutliers))", .text),
        ]
    }

    /// The input's asymmetry and what a symmetric grid costs against an asymmetric one (MSE).
    static func activationLines(_ state: AppState, _ i: Int) -> [(String, String, Style)] {
        guard let a = state.sensitivity.activations(i) else { return [] }
        let asymmetry = a.asymmetry.isInfinite ? "∞" : Text.fixed(a.asymmetry, 2)
        var lines: [(String, String, Style)] = [
            ("input", "\(Format.value(Float(a.minimum))) … \(Format.value(Float(a.maximum)))", .text),
            ("|min|/mx", "\(asymmetry) · \(Text.fixed(a.negativeFraction * 100, 1))% < 0", .text),
        ]
        for bits in ActivationStatistics.gridBits {
            guard let symmetric = a.symmetricMSE[bits], let asymmetric = a.asymmetricMSE[bits] else { continue }
            // Bad when the symmetric grid costs more than twice the asymmetric one.
            let style: Style = symmetric > 2 * asymmetric ? .warn : .text
            lines.append(("MSE \(bits)b", "sym \(Format.compact(symmetric)) · asym \(Format.compact(asymmetric))", style))
        }
        return lines
    }
}
