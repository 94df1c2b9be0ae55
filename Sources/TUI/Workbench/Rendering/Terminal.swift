/// Keeps the last frame and sends only the cells that changed to the backend (ratatui's model).
public struct Terminal<Backend: TerminalBackend> {
    public var backend: Backend
    private var previous: CellBuffer?

    public init(backend: Backend) { self.backend = backend }

    /// Renders a frame at the backend's current size: `paint` fills a fresh buffer, then the cells
    /// that differ from the previous frame are drawn and flushed. Returns the number of cells drawn.
    @discardableResult
    public mutating func draw(_ paint: (inout CellBuffer) -> Void) -> Int {
        var buffer = CellBuffer(size: backend.size)
        paint(&buffer)
        let changes = Terminal.diff(from: previous, to: buffer)
        backend.draw(changes)
        backend.flush()
        previous = buffer
        return changes.count
    }

    /// Forces the next frame to repaint every cell (resize, theme change, Ctrl-L).
    public mutating func invalidate() {
        previous = nil
        backend.clear()
    }

    /// The cells of `next` that differ from `previous` (all of them when the sizes differ), in row
    /// order, without continuation cells. A wide glyph is re-sent when its continuation changed.
    public static func diff(from previous: CellBuffer?, to next: CellBuffer) -> [(x: Int, y: Int, cell: Cell)] {
        var changes: [(x: Int, y: Int, cell: Cell)] = []
        let width = next.size.width
        let same = previous?.size == next.size
        for y in 0..<next.size.height {
            for x in 0..<width {
                let cell = next[x, y]
                if cell.isContinuation { continue }
                if same, let previous {
                    var unchanged = previous[x, y] == cell
                    if unchanged, x + 1 < width, next[x + 1, y].isContinuation != previous[x + 1, y].isContinuation {
                        unchanged = false
                    }
                    if unchanged, x + 1 < width, previous[x + 1, y].isContinuation, !next[x + 1, y].isContinuation {
                        unchanged = false
                    }
                    if unchanged { continue }
                }
                changes.append((x, y, cell))
            }
        }
        return changes
    }
}
