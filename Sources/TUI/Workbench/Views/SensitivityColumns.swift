import Analysis
import Executor
import Foundation

/// The Layers table's sensitivity columns: the Hessian trace with a bar on a log scale, and HAWQ-V2
/// Ω at the layer's current choice (`AppState.omega`).
///
/// Values whose standard error is still above the tolerance (`SensitivityState.isSettled`) are dim:
/// they are estimates that will move as probes accumulate. "…" while no estimate exists yet, "—"
/// when the analysis failed.
enum SensitivityColumns {
    static let barWidth = 6

    static let trace = LayersTable.Column(
        // The title sits over the numbers, not over the bars.
        title: "trace" + String(repeating: " ", count: SensitivityColumns.barWidth + 1), width: 7 + 1 + SensitivityColumns.barWidth,
        alignRight: true, dropRank: 0, barWidth: SensitivityColumns.barWidth,
        cell: { state, i in
            guard let t = state.sensitivity.trace(i) else { return (SensitivityColumns.placeholder(state), .dim) }
            return (Format.compact(t.trace), state.sensitivity.isSettled(i) ? .text : .dim)
        },
        bar: { state, i in
            guard let t = state.sensitivity.trace(i), let fraction = SensitivityColumns.logFraction(t.trace, among: state.sensitivity.layers.map(\.trace))
            else { return nil }
            let level = Int((fraction * 100).rounded())
            return (fraction, Style(.heat, level: level, attributes: state.sensitivity.isSettled(i) ? [] : .dim))
        })

    static let omega = LayersTable.Column(title: "Ω", width: 7, alignRight: true, dropRank: 1) { state, i in
        guard state.sensitivity.trace(i) != nil else { return (SensitivityColumns.placeholder(state), .dim) }
        guard let omega = state.omega(i) else { return ("…", .dim) }
        return (Format.compact(omega), state.sensitivity.isSettled(i) && state.layerResult(i) != nil ? .text : .dim)
    }

    static func placeholder(_ state: AppState) -> String {
        if case .failed = state.sensitivity.phase { return "—" }
        return "…"
    }

    /// Where `value` sits between the smallest and the largest positive value of `all` on a log
    /// scale, in (0, 1]: the smallest gets a sliver, the largest the full bar; all equal: full.
    /// Nil for zero, negative or non-finite values (no bar: a log scale cannot place them).
    static func logFraction(_ value: Double, among all: [Double]) -> Double? {
        guard value > 0, value.isFinite else { return nil }
        let positive = all.filter { $0 > 0 && $0.isFinite }
        guard let lo = positive.min(), let hi = positive.max(), hi > lo else { return 1 }
        let t = (log(value) - log(lo)) / (log(hi) - log(lo))
        // Map [0, 1] onto [1/8 of a cell, the whole bar] so every positive trace shows.
        let sliver = 1.0 / Double(barWidth * 8)
        return sliver + (1 - sliver) * min(1, max(0, t))
    }

    /// Paints a left-to-right bar of `fraction` × `width` cells in eighths of a cell (whole cells
    /// of `#` in ASCII mode).
    static func paintBar(_ fraction: Double, x: Int, y: Int, width: Int, style: Style, glyphs: GlyphSet, into buffer: inout CellBuffer) {
        guard width > 0 else { return }
        let eighths = Int((min(1, max(0, fraction)) * Double(width * 8)).rounded())
        let partial: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        for c in 0..<width {
            let filled = min(8, max(0, eighths - c * 8))
            let glyph: Character
            if glyphs == .ascii {
                glyph = filled >= 4 || (c == 0 && filled > 0) ? "#" : " "
            } else {
                glyph = filled == 8 ? "█" : filled == 0 ? " " : partial[filled - 1]
            }
            buffer.set(x: x + c, y: y, Cell(glyph, style: style))
        }
    }
}

extension SensitivityColumns {
    /// The detail pane's sensitivity lines for layer `i`: trace ± standard error (with the relative
    /// error), trace per parameter, Ω at the current choice, and the loss the Hessian is of when no
    /// labels score the output (KL or MSE to FP32); nothing before the first estimate.
    static func detailLines(_ state: AppState, _ i: Int) -> [(String, String, Style)] {
        guard let t = state.sensitivity.trace(i) else { return [] }
        let settled = state.sensitivity.isSettled(i)
        let relative = t.trace != 0 ? " (\(Text.fixed(100 * t.standardError / abs(t.trace), 1))%)" : ""
        var lines: [(String, String, Style)] = [
            ("trace", "\(Format.compact(t.trace)) ± \(Format.compact(t.standardError))\(relative)", settled ? .text : .dim),
            ("tr/param", Format.compact(t.tracePerParameter), settled ? .text : .dim),
        ]
        if let omega = state.omega(i) {
            lines.append(("Ω", Format.compact(omega) + " at " + WeightBitsLadder.label(state.plan.choices[i].weights), settled ? .text : .dim))
        }
        switch state.sensitivity.lossKind {
        case "kl-to-fp32": lines.append(("loss", "KL to FP32 softmax", .dim))
        case "mse-to-fp32": lines.append(("loss", "MSE to FP32 output", .dim))
        default: break
        }
        return lines
    }
}
