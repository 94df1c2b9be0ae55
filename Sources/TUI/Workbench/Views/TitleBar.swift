/// Row 0: the model, data and plan file, with an unsaved-changes mark and the help hint.
///
/// When the row is too narrow, the paths give way first (cut at their start, so that the file
/// names stay), then the counts; the unsaved mark `[+]` is never cut.
enum TitleBar {
    static func render(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        guard !rect.isEmpty else { return }
        buffer.fill(rect, style: .status)
        let right = "? help "
        let width = rect.width - DisplayWidth.of(right) - 1
        let left = line(state, width: width)
        buffer.putLine(left, in: Rect(x: rect.x, y: rect.y, width: width, height: 1), style: Style.status.with(.bold))
        buffer.putLine(right, in: rect, style: .status, alignRight: true)
    }

    /// Paths shorter than this are not cut further; the counts are dropped instead.
    static let shortestPath = 16

    /// The left part of the row in at most `width` columns, ending in the unsaved mark if any.
    static func line(_ state: AppState, width: Int) -> String {
        let dirty = state.hasUnsavedChanges ? " [+]" : ""
        let room = width - DisplayWidth.of(dirty)
        let counts = "  ·  \(state.model.layers.count) layers  ·  \(Text.grouped(state.model.samples)) samples"
        func compose(model: String, plan: String, counts: String) -> String {
            " qscope  \(model)\(counts)  ·  plan \(plan)"
        }
        // The first of these that fits: the counts go only when cutting the paths is not enough.
        for shownCounts in [counts, ""] {
            var (model, plan) = (state.model.path, state.planPath)
            let overflow = { DisplayWidth.of(compose(model: model, plan: plan, counts: shownCounts)) - room }
            if overflow() > 0 { plan = Text.truncateHead(plan, to: max(Self.shortestPath, DisplayWidth.of(plan) - overflow())) }
            if overflow() > 0 { model = Text.truncateHead(model, to: max(Self.shortestPath, DisplayWidth.of(model) - overflow())) }
            if overflow() <= 0 { return compose(model: model, plan: plan, counts: shownCounts) + dirty }
        }
        let shortest = compose(model: Text.truncateHead(state.model.path, to: Self.shortestPath),
                               plan: Text.truncateHead(state.planPath, to: Self.shortestPath), counts: "")
        return Text.truncate(shortest, to: max(0, room)) + dirty
    }
}
