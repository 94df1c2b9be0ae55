import Analysis
import Executor

/// Row h-2: engine state, the headline metric (accuracy or agreement with its 95 % interval, or
/// cosine, SQNR or KL to FP32) and its change against FP32, size and bits.
/// Numbers of an evaluation that is not for the plan on screen are dimmed until the new one lands.
enum StatusLine {
    static func render(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        guard !rect.isEmpty else { return }
        buffer.fill(rect, style: .status)
        var segments: [(String, Style)] = [(" " + engineText(state) + " ", engineStyle(state))]
        switch state.tradeoff.allocation {
        case .none: break
        case .waitingForTraces(let budget):
            segments.append(("HAWQ \(BudgetInput.describe(budget)): waiting for traces", Style(.warn)))
        case .running(let budget, let probes, _):
            segments.append(("HAWQ \(BudgetInput.describe(budget)) from \(probes) probes…", Style(.warn)))
        }
        // The sensitivity segment goes last; when it would not fit, everything goes compact.
        let analysis = SensitivityStatus.segment(state, compact: false)
        let compact = rect.width < 110 + (analysis.map { DisplayWidth.of($0.0) + 3 } ?? 0)
        if let error = state.engineError {
            segments.append(("error: " + error, Style(.bad)))
        } else if let e = state.evaluation {
            let stale = !state.evaluationIsCurrent
            func s(_ style: Style) -> Style { stale ? Style(.dim) : style }
            switch e.headline {
            case .accuracy, .agreement:
                let metric = e.correct == nil ? "agree" : "acc"
                let interval = e.interval
                let ci = compact ? "[\(Text.fixed(interval.lower * 100, 1))–\(Text.fixed(interval.upper * 100, 1))]"
                                 : "(95% CI \(Text.fixed(interval.lower * 100, 2))–\(Text.fixed(interval.upper * 100, 2)))"
                segments.append(("\(metric) \(Format.percent(e.accuracy)) \(ci)", s(Style(.text, attributes: .bold))))
                if let reference = e.referenceAccuracy {
                    let delta = e.accuracy - reference
                    let style: Style = delta < -0.005 ? .bad : delta < 0 ? .warn : .good
                    segments.append(("Δ \(Format.points(delta))" + (compact ? "" : " vs FP32"), s(style)))
                }
            case .cosine:
                let text = "cos \(Text.fixed(e.metrics.cosineMean, 5))" + (compact ? "" : " (min \(Text.fixed(e.metrics.cosineMin, 4)))")
                segments.append((text, s(Style(.text, attributes: .bold))))
                let loss = e.scoreLoss
                segments.append(("Δ \(Text.fixed(-loss, 5))" + (compact ? "" : " vs FP32"), s(loss > 0.01 ? .bad : loss > 0.001 ? .warn : .good)))
            case .sqnr:
                let sqnr = e.metrics.sqnrDB
                segments.append((sqnr.isInfinite ? "SQNR ∞ dB" : "SQNR \(Text.fixed(sqnr, 1)) dB", s(Style(.text, attributes: .bold))))
            case .kl:
                let kl = e.metrics.kl ?? 0
                segments.append(("KL \(Text.fixed(kl, 5))" + (compact ? "" : " to FP32"),
                                 s(kl > 0.05 ? .bad : kl > 0.005 ? .warn : .good)))
            }
            segments.append((compact ? "\(Format.mebibytes(bits: e.size.payloadBits))/\(Format.mebibytes(bits: e.size.totalBits)) MB"
                                     : "\(Format.mebibytes(bits: e.size.payloadBits)) MB weights · \(Format.mebibytes(bits: e.size.totalBits)) MB w/ meta",
                             s(.text)))
            segments.append(("\(Text.fixed(e.size.averagePayloadBits, 2)) bits/w", s(.text)))
        } else {
            segments.append(("accuracy pending", Style(.dim)))
        }
        // Compact numbers leave room for the long form of this segment from 100 columns on.
        if let segment = SensitivityStatus.segment(state, compact: compact && rect.width < 100) { segments.append(segment) }
        var x = rect.x
        for (i, (text, style)) in segments.enumerated() {
            if i > 0 {
                x += buffer.put(compact ? " " : " │ ", x: x, y: rect.y, style: Style(.status), maxWidth: rect.maxX - x)
            }
            x += buffer.put(text, x: x, y: rect.y, style: style.role == .text ? Style(.status, attributes: style.attributes) : style,
                            maxWidth: rect.maxX - x)
            if x >= rect.maxX { break }
        }
    }

    /// "idle", "queued", "computing 3/8" — the e2e test waits for "idle".
    static func engineText(_ state: AppState) -> String {
        switch state.engine {
        case .idle: return "● idle"
        case .queued: return "◌ queued"
        case .running(let done, let total):
            guard total > 0 else { return "◐ computing" }
            let width = 8
            let full = done * width / total
            return "◐ computing " + String(repeating: state.glyphs.meterFull, count: full)
                + String(repeating: state.glyphs.meterEmpty, count: width - full) + " \(done)/\(total)"
        }
    }

    static func engineStyle(_ state: AppState) -> Style {
        switch state.engine {
        case .idle: return state.engineError == nil ? Style(.good, attributes: .bold) : Style(.bad, attributes: .bold)
        case .queued, .running: return Style(.warn, attributes: .bold)
        }
    }
}

/// Row h-1: a prompt, a notice, or the most used keys (from the keymap).
enum BottomLine {
    static func render(_ state: AppState, keymap: Keymap, in rect: Rect, into buffer: inout CellBuffer) {
        guard !rect.isEmpty else { return }
        if case .prompt(let prompt)? = state.overlay {
            let x = rect.x + buffer.put(prompt.label, x: rect.x, y: rect.y, style: .accent, maxWidth: rect.width)
            // Show the end of a long path, where the user is typing.
            let room = rect.maxX - x - 1
            var text = prompt.text
            while DisplayWidth.of(text) > room, !text.isEmpty { text.removeFirst() }
            let end = x + buffer.put(text, x: x, y: rect.y, style: .text, maxWidth: room)
            buffer.set(x: end, y: rect.y, Cell("▏", style: .accent))
            let hint = "  Enter ok · Esc cancel"
            if end + 2 + DisplayWidth.of(hint) < rect.maxX { buffer.putLine(hint, in: rect, style: .dim, alignRight: true) }
            return
        }
        if state.overlay == .confirmQuit {
            buffer.putLine("Unsaved changes. Quit anyway? y quit · s save first · any other key cancels", in: rect, style: .warn)
            return
        }
        if let notice = state.notice {
            buffer.putLine(notice.text, in: rect, style: notice.isError ? .bad : .good)
            return
        }
        let shown = hints(width: rect.width, glyphs: state.glyphs, keymap: keymap)
        var x = rect.x
        for (index, hint) in shown.hints.enumerated() {
            x += buffer.put(hint.keys, x: x, y: rect.y, style: .accent)
            let gap = index == shown.hints.count - 1 ? "" : String(repeating: " ", count: shown.gap)
            x += buffer.put(" " + hint.label + gap, x: x, y: rect.y, style: .dim)
        }
    }

    struct Hint: Equatable {
        var keys: String
        var label: String
        var width: Int { DisplayWidth.of(keys) + 1 + DisplayWidth.of(label) }
    }

    /// The main view's key hints in screen order, each with its priority (0 first): help and quit,
    /// then what only a key reveals (compare, split, allocation, trade-off, export, sort, theme),
    /// then the edits and files, then what the arrows and `?` make obvious.
    static let catalogue: [(action: Action, label: String, priority: Int)] = [
        (.selectNext, "select", 14), (.bitsUp, "bits", 9), (.openCompare, "compare", 2), (.toggleSplit, "split", 3),
        (.applyBitsToAll, "all", 13), (.allocate, "allocate", 4), (.toggleTradeoff, "trade-off", 5), (.undo, "undo", 10),
        (.redo, "redo", 12), (.save, "save", 8), (.load, "open", 11), (.export, "export", 6), (.cycleSort, "sort", 7),
        (.cycleTheme, "theme", 7), (.toggleHelp, "help", 0), (.quit, "quit", 1),
    ]

    /// The hints that fit in `width` columns, chosen by priority and shown in catalogue order, with
    /// two spaces between them unless one space lets more of them fit.
    static func hints(width: Int, glyphs: GlyphSet, keymap: Keymap) -> (hints: [Hint], gap: Int) {
        let all = catalogue.map { entry -> Hint in
            switch entry.action {
            case .selectNext: return Hint(keys: glyphs == .ascii ? "j/k" : "↑↓", label: entry.label)
            case .bitsUp: return Hint(keys: "+/-", label: entry.label)
            default: return Hint(keys: keymap.keys(for: entry.action).first?.displayName ?? "", label: entry.label)
            }
        }
        let byPriority = all.indices.sorted { (catalogue[$0].priority, $0) < (catalogue[$1].priority, $1) }
        func fitting(gap: Int) -> [Hint] {
            var chosen = Set<Int>()
            var used = 0
            for index in byPriority {
                let cost = all[index].width + (chosen.isEmpty ? 0 : gap)
                if used + cost <= width {
                    chosen.insert(index)
                    used += cost
                }
            }
            return all.indices.filter(chosen.contains).map { all[$0] }
        }
        let wide = fitting(gap: 2)
        let tight = fitting(gap: 1)
        return tight.count > wide.count ? (tight, 1) : (wide, 2)
    }
}
