/// A dot canvas of 2x4 dots per cell, drawn with Unicode braille patterns (U+2800...U+28FF): lines
/// at four times the vertical and twice the horizontal resolution of the cells.
///
/// Dot (0, 0) is the top-left dot of cell (0, 0); x grows right, y grows down. Dots outside the
/// canvas are ignored.
public struct BrailleCanvas: Equatable, Sendable {
    public let columns: Int
    public let rows: Int
    private var bits: [UInt8]

    public init(columns: Int, rows: Int) {
        self.columns = max(0, columns)
        self.rows = max(0, rows)
        bits = Array(repeating: 0, count: self.columns * self.rows)
    }

    public var dotWidth: Int { columns * 2 }
    public var dotHeight: Int { rows * 4 }

    /// The braille bit of each dot of a cell, indexed [dy][dx] (ISO 11548-1 dot numbering).
    private static let dotBits: [[UInt8]] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]]

    public mutating func set(dotX: Int, dotY: Int) {
        guard dotX >= 0, dotY >= 0, dotX < dotWidth, dotY < dotHeight else { return }
        bits[(dotY / 4) * columns + dotX / 2] |= Self.dotBits[dotY % 4][dotX % 2]
    }

    /// A straight line of dots between two dots, both ends included (Bresenham).
    public mutating func line(from a: (x: Int, y: Int), to b: (x: Int, y: Int)) {
        var (x, y) = a
        let dx = abs(b.x - a.x), dy = -abs(b.y - a.y)
        let sx = a.x < b.x ? 1 : -1, sy = a.y < b.y ? 1 : -1
        var error = dx + dy
        while true {
            set(dotX: x, dotY: y)
            if x == b.x && y == b.y { return }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }

    /// The pattern of cell (column, row), nil when it has no dot.
    public func character(column: Int, row: Int) -> Character? {
        guard column >= 0, row >= 0, column < columns, row < rows else { return nil }
        let value = bits[row * columns + column]
        guard value != 0 else { return nil }
        return Character(Unicode.Scalar(0x2800 + UInt32(value))!)
    }
}
