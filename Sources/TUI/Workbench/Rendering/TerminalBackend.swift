/// What the `Terminal` needs from a real or in-memory screen.
///
/// Implementations: `MemoryBackend` (tests, benchmarks) and the ncurses backend in the
/// `CursesBackend` target, which is the only code that talks to a terminal.
public protocol TerminalBackend {
    /// Current size in cells.
    var size: Size { get }
    /// Paints changed cells; `x`, `y` are 0-based. Continuation cells are never passed.
    mutating func draw(_ changes: [(x: Int, y: Int, cell: Cell)])
    /// Makes the painted cells visible.
    mutating func flush()
    /// Forgets what the screen shows (after a resize or a theme change) so the next frame repaints all.
    mutating func clear()
}

/// A backend that keeps the painted cells in memory: for tests and the render benchmark.
public struct MemoryBackend: TerminalBackend {
    public var size: Size
    public private(set) var screen: CellBuffer
    /// Cells painted by the last `draw` call.
    public private(set) var lastChangeCount = 0
    public private(set) var flushes = 0

    public init(size: Size) {
        self.size = size
        self.screen = CellBuffer(size: size)
    }

    public mutating func draw(_ changes: [(x: Int, y: Int, cell: Cell)]) {
        if screen.size != size { screen = CellBuffer(size: size) }
        for change in changes { screen.set(x: change.x, y: change.y, change.cell) }
        lastChangeCount = changes.count
    }

    public mutating func flush() { flushes += 1 }
    public mutating func clear() { screen = CellBuffer(size: size) }
}
