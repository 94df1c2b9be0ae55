/// Row 0: the model, data and plan file, with an unsaved-changes mark and the help hint.
enum TitleBar {
    static func render(_ state: AppState, in rect: Rect, into buffer: inout CellBuffer) {
        guard !rect.isEmpty else { return }
        buffer.fill(rect, style: .status)
        let dirty = state.hasUnsavedChanges ? " [+]" : ""
        let left = " qscope  \(state.model.path)  ·  \(state.model.layers.count) layers  ·  "
            + "\(Text.grouped(state.model.samples)) samples  ·  plan \(state.planPath)\(dirty)"
        let right = "? help "
        buffer.putLine(left, in: Rect(x: rect.x, y: rect.y, width: rect.width - DisplayWidth.of(right) - 1, height: 1),
                       style: Style.status.with(.bold))
        buffer.putLine(right, in: rect, style: .status, alignRight: true)
    }
}
