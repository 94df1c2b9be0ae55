/// The whole screen for a state: the one function the runtime calls per frame.
///
/// Pure: paints `buffer` (of the terminal's size) from `state` alone; never fails, whatever the size.
public func renderScreen(_ state: AppState, keymap: Keymap = .standard, into buffer: inout CellBuffer) {
    let layout = state.layout
    if layout.isTooSmall {
        TooSmallNotice.render(size: buffer.size, askingToQuit: state.overlay == .confirmQuit, into: &buffer)
        return
    }
    TitleBar.render(state, in: layout.title, into: &buffer)
    LayersTable.render(state, in: layout.layers, into: &buffer)
    if state.tradeoff.isVisible {
        TradeoffPane.render(state, in: layout.detail, into: &buffer)
    } else if state.compare != nil {
        CompareView.render(state, in: layout.detail, into: &buffer)
    } else {
        DetailPane.render(state, in: layout.detail, into: &buffer)
    }
    StatusLine.render(state, in: layout.status, into: &buffer)
    BottomLine.render(state, keymap: keymap, in: layout.bottom, into: &buffer)
    if state.overlay == .help {
        HelpOverlay.render(state, keymap: keymap, in: Rect(size: buffer.size), into: &buffer)
    }
    if case .export(let dialog)? = state.overlay {
        ExportDialogView.render(state, dialog, in: Rect(size: buffer.size), into: &buffer)
    }
    if state.glyphs == .ascii { ASCIIFallback.apply(to: &buffer) }
}

/// For terminals whose locale is not UTF-8 (where ncurses drops other characters): the typographic
/// characters the views use, one cell each, spelled in ASCII; anything else non-ASCII becomes `?`.
enum ASCIIFallback {
    static let table: [Character: Character] = [
        "·": "|", "…": "~", "∞": "*", "−": "-", "–": "-", "±": "+", "Δ": "d", "●": "*", "◌": "o", "◐": "*",
        "▏": "|", "▶": ">", "↑": "^", "↓": "v", "←": "<", "→": ">", "┆": "|", "█": "#", "░": ".",
    ]

    static func apply(to buffer: inout CellBuffer) {
        for y in 0..<buffer.size.height {
            for x in 0..<buffer.size.width {
                let cell = buffer[x, y]
                guard !cell.glyph.isASCII, !cell.isContinuation else { continue }
                buffer[x, y].glyph = table[cell.glyph] ?? "?"
            }
        }
    }
}

/// Shown instead of the panels when the terminal is below `ScreenLayout.minimum`.
enum TooSmallNotice {
    /// `askingToQuit`: the unsaved-changes question is open; it is answered here, since its overlay
    /// cannot be drawn. Only the keys in `actionsWhileTooSmall` act meanwhile.
    static func render(size: Size, askingToQuit: Bool, into buffer: inout CellBuffer) {
        let lines = [
            "terminal too small",
            "\(size.width)x\(size.height), need \(ScreenLayout.minimum.width)x\(ScreenLayout.minimum.height)",
            askingToQuit ? "unsaved: y quits, any key stays" : "q quits",
        ]
        let top = max(0, (size.height - lines.count) / 2)
        for (i, line) in lines.enumerated() {
            let width = min(size.width, DisplayWidth.of(line))
            buffer.put(line, x: max(0, (size.width - width) / 2), y: top + i, style: i == 0 ? .bad : .dim, maxWidth: size.width)
        }
    }
}
