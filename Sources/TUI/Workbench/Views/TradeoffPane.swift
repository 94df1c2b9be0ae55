import Analysis
import Executor
import Foundation

/// The Trade-off pane (`T`, in the Detail panel's place): the headline metric (y: accuracy or
/// agreement in %, cosine, SQNR in dB, or KL plotted downwards) against the size of the
/// quantizable weights with metadata (x, MB of 2^20 bytes) of every plan evaluated so far:
///
/// - the Pareto front of all points (non-dominated), joined by a braille line, points `●`;
/// - the uniform plans, drawn as their bit-width digit (8 6 4 3 2);
/// - the other HAWQ plans of the sweep `·`, the plans the user evaluated this session `∘`;
/// - the plan on screen `◆` (when its evaluation has landed).
///
/// Points more than `maximumSpan` below the best (a collapsed 2-bit model) sit on the bottom row as
/// `↓` so the useful part keeps its resolution; the note line says where the window ends.
enum TradeoffPane {
    /// The window spans at most this much below the best point, in the metric's units (0.25 = 25
    /// points of accuracy, 30 dB of SQNR, 1 nat of KL).
    static func maximumSpan(_ headline: FidelityMetric) -> Double {
        switch headline {
        case .accuracy, .agreement, .cosine: return 0.25
        case .sqnr: return 30
        case .kl: return 1
        }
    }

    /// A y-axis label: the plotted (larger-is-better) value as the metric is read.
    static func label(_ value: Double, _ headline: FidelityMetric) -> String {
        switch headline {
        case .accuracy, .agreement: return Text.fixed(value * 100, 1) + "%"
        case .cosine: return Text.fixed(value, 4)
        case .sqnr: return Text.fixed(value, 1) + "dB"
        case .kl: return Text.fixed(-value, 3)
        }
    }

    struct Marks {
        var front, hawq, session, current, below: Character
        var dot: Character?
    }

    static func marks(_ glyphs: GlyphSet) -> Marks {
        glyphs == .ascii
            ? Marks(front: "*", hawq: ".", session: "o", current: "@", below: "v", dot: ".")
            : Marks(front: "●", hawq: "·", session: "∘", current: "◆", below: "↓", dot: nil)
    }

    static func render(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        guard rect.width >= 20, rect.height >= 6 else { return }
        buffer.box(rect, title: "Trade-off · accuracy vs size", glyphs: state.glyphs)
        let inner = rect.inset(by: 1)
        let marks = marks(state.glyphs)
        let headline = state.evaluation?.headline ?? .accuracy
        let metric: String
        switch headline {
        case .accuracy, .agreement: metric = (state.evaluation?.correct == nil && state.evaluation != nil) ? "agreement %" : "accuracy %"
        case .cosine: metric = "cosine"
        case .sqnr: metric = "SQNR dB"
        case .kl: metric = "KL ↓"
        }
        renderLegend(state, marks, metric: metric, in: Rect(x: inner.x, y: inner.y, width: inner.width, height: 1), into: &buffer)
        let tradeoff = state.tradeoff
        // The FP32 plan's SQNR is infinite: only finite points are placed.
        var points = (tradeoff.points + tradeoff.history).filter { $0.accuracy.isFinite }
        if let evaluation = state.evaluation, state.evaluationIsCurrent, evaluation.orientedScore.isFinite,
           !points.contains(where: { $0.plan == evaluation.plan }) {
            points.append(TradeoffPoint(source: .session, evaluation: evaluation))
        }
        let noteRow = Rect(x: inner.x, y: inner.maxY - 1, width: inner.width, height: 1)
        let labelWidth = 7
        let plotArea = Rect(x: inner.x + labelWidth + 1, y: inner.y + 1, width: inner.width - labelWidth - 2, height: inner.height - 4)
        guard plotArea.width >= 8, plotArea.height >= 2 else { return }
        guard !points.isEmpty else {
            buffer.putLine("no evaluated plans yet", in: Rect(x: plotArea.x, y: plotArea.y + plotArea.height / 2, width: plotArea.width, height: 1),
                           style: .dim)
            renderNote(state, windowFloor: nil, in: noteRow, into: &buffer)
            return
        }
        // Ranges, padded so that extreme points do not sit on the frame. Size is on a log scale: the
        // 2...8-bit plans are 4 to 16 times smaller than FP32 and would share a few columns otherwise.
        let sizes = points.map { log10(max($0.megabytes, 1e-12)) }, accuracies = points.map(\.accuracy)
        var (xLow, xHigh) = (sizes.min()!, sizes.max()!)
        if xHigh - xLow < 1e-6 { (xLow, xHigh) = (xLow - 0.05, xHigh + 0.05) }
        let top = accuracies.max()!
        // The window starts at the lowest point within `maximumSpan` of the best one; points further
        // down (a collapsed 2-bit plan) are drawn as ↓ on the bottom row.
        let floor = accuracies.filter { $0 >= top - maximumSpan(headline) }.min()!
        let clipped = accuracies.min()! < floor
        var (yLow, yHigh) = (floor, top)
        if yHigh - yLow < 1e-4 { (yLow, yHigh) = (yLow - 0.005, yHigh + 0.005) }
        let pad = (yHigh - yLow) * 0.04
        yLow -= pad
        yHigh += pad

        // Axes: y labels at the top, middle and bottom rows, x labels under the axis.
        let axisX = plotArea.x - 1, axisY = plotArea.maxY
        let vertical = state.glyphs.box.vertical, horizontal = state.glyphs.box.horizontal
        for y in plotArea.y..<plotArea.maxY { buffer.set(x: axisX, y: y, Cell(vertical, style: .dim)) }
        buffer.set(x: axisX, y: axisY, Cell(state.glyphs.box.bottomLeft, style: .dim))
        for x in plotArea.x..<plotArea.maxX { buffer.set(x: x, y: axisY, Cell(horizontal, style: .dim)) }
        for row in Set([0, (plotArea.height - 1) / 2, plotArea.height - 1]) {
            let value = yHigh - (yHigh - yLow) * Double(row) / Double(max(1, plotArea.height - 1))
            buffer.put(Text.pad(label(value, headline), to: labelWidth, alignRight: true), x: inner.x, y: plotArea.y + row, style: .dim)
        }
        let (lowMB, highMB) = (pow(10, xLow), pow(10, xHigh))
        let decimals = max(3, min(6, Int(-log10(max(lowMB, 1e-9)).rounded(.up)) + 1))
        let left = Text.fixed(lowMB, decimals), right = Text.fixed(highMB, decimals) + " MB"
        let title = "size, weights + metadata (log scale)"
        let tickRow = axisY + 1
        buffer.put(left, x: plotArea.x, y: tickRow, style: .dim)
        buffer.put(right, x: plotArea.maxX - DisplayWidth.of(right), y: tickRow, style: .dim)
        let titleX = plotArea.x + (plotArea.width - DisplayWidth.of(title)) / 2
        if titleX > plotArea.x + DisplayWidth.of(left) + 1, titleX + DisplayWidth.of(title) < plotArea.maxX - DisplayWidth.of(right) - 1 {
            buffer.put(title, x: titleX, y: tickRow, style: .dim)
        }

        func scaled(_ megabytes: Double) -> Double { (log10(max(megabytes, 1e-12)) - xLow) / (xHigh - xLow) }
        func column(_ megabytes: Double) -> Int {
            plotArea.x + Int((scaled(megabytes) * Double(plotArea.width - 1)).rounded())
        }
        func row(_ accuracy: Double) -> Int? {
            guard accuracy >= yLow else { return nil }
            return plotArea.maxY - 1 - Int(((accuracy - yLow) / (yHigh - yLow) * Double(plotArea.height - 1)).rounded())
        }

        // The front as a line (braille dots; ASCII terminals get dots).
        let front = ParetoSweep.nonDominated(points.map { ($0.totalBits, $0.accuracy) })
        let frontPoints = zip(points, front).filter { $1 && $0.accuracy >= yLow }.map(\.0).sorted { $0.totalBits < $1.totalBits }
        var canvas = BrailleCanvas(columns: plotArea.width, rows: plotArea.height)
        func dot(_ p: TradeoffPoint) -> (x: Int, y: Int) {
            let x = (scaled(p.megabytes) * Double(canvas.dotWidth - 1)).rounded()
            let y = Double(canvas.dotHeight - 1) - ((p.accuracy - yLow) / (yHigh - yLow) * Double(canvas.dotHeight - 1)).rounded()
            return (Int(x), Int(y))
        }
        for (a, b) in zip(frontPoints, frontPoints.dropFirst()) { canvas.line(from: dot(a), to: dot(b)) }
        for r in 0..<canvas.rows {
            for c in 0..<canvas.columns {
                if let glyph = canvas.character(column: c, row: r) {
                    buffer.set(x: plotArea.x + c, y: plotArea.y + r, Cell(marks.dot ?? glyph, style: .accent))
                }
            }
        }

        // Markers, least important first so that the front and the current plan stay visible.
        func place(_ p: TradeoffPoint, _ glyph: Character, _ style: Style) {
            let y = row(p.accuracy) ?? (plotArea.maxY - 1)
            buffer.set(x: column(p.megabytes), y: y, Cell(row(p.accuracy) == nil ? marks.below : glyph, style: style))
        }
        for p in points where p.source == .session { place(p, marks.session, .text) }
        for p in points where p.source == .hawq { place(p, marks.hawq, .dim) }
        for (p, onFront) in zip(points, front) where onFront && p.source != .uniform { place(p, marks.front, Style(.good, attributes: .bold)) }
        for p in points where p.source == .uniform {
            let bits = p.plan.choices.first?.weights?.bits ?? 32
            let digit: Character = bits < 10 ? Character(String(bits)) : "u"
            place(p, digit, Style(.warn, attributes: .bold))
        }
        if let evaluation = state.evaluation, state.evaluationIsCurrent {
            place(TradeoffPoint(source: .session, evaluation: evaluation), marks.current, Style(.selection, attributes: .bold))
        }
        renderNote(state, windowFloor: clipped ? floor : nil, in: noteRow, into: &buffer)
    }

    /// Row 1: the y axis and what each mark means.
    static func renderLegend(_ state: AppState, _ marks: Marks, metric: String, in rect: Rect, into buffer: inout CellBuffer) {
        let items: [(String, String, Style)] = [
            (String(marks.front), "front", Style(.good, attributes: .bold)),
            (String(marks.hawq), "HAWQ", .dim),
            ("8642", "uniform int", Style(.warn, attributes: .bold)),
            (String(marks.session), "your plans", .text),
            (String(marks.current), "current", Style(.selection, attributes: .bold)),
        ]
        var x = rect.x + buffer.put("\(metric) ↑  ", x: rect.x, y: rect.y, style: .dim, maxWidth: rect.width)
        for (mark, label, style) in items {
            let width = DisplayWidth.of(mark) + 1 + DisplayWidth.of(label) + 2
            if x + width > rect.maxX { break }
            x += buffer.put(mark, x: x, y: rect.y, style: style)
            x += buffer.put(" " + label + "  ", x: x, y: rect.y, style: .dim)
        }
    }

    /// The last row: sweep progress, the HAWQ cap, where the window is clipped.
    static func renderNote(_ state: AppState, windowFloor: Double?, in rect: Rect, into buffer: inout CellBuffer) {
        let t = state.tradeoff
        var parts: [String] = []
        switch t.sweep {
        case .notStarted: break
        case .running(let done, let total): parts.append(total > 0 ? "evaluating \(done)/\(total)" : "planning the sweep")
        case .finished(let seconds): parts.append("sweep done in \(Text.fixed(seconds, 1)) s")
        case .failed(let message): parts.append("sweep failed: " + message)
        }
        if t.sweptWithFinalTraces {
            if t.hawqDistinct > t.hawqPlanned {
                parts.append("HAWQ: \(t.hawqPlanned) of \(t.hawqDistinct) distinct plans (capped)")
            } else if t.hawqDistinct > 0 {
                parts.append("HAWQ: all \(t.hawqDistinct) distinct plans")
            }
        } else {
            let s = state.sensitivity
            parts.append(s.phase == .finished || s.maxProbes == 0 ? "HAWQ front once the traces are final"
                                                                   : "HAWQ front once the traces are final (\(s.probes)/\(s.maxProbes) probes)")
        }
        if let floor = windowFloor {
            parts.append("↓ below \(label(floor, state.evaluation?.headline ?? .accuracy)), not to scale")
        }
        buffer.putLine(parts.joined(separator: " · "), in: rect, style: .dim)
    }
}
