/// One terminal cell: a grapheme and its style.
///
/// A double-width glyph occupies its cell and the next; the next cell is a `continuation` that the
/// backend skips (the glyph already covers it).
public struct Cell: Hashable, Sendable {
    public var glyph: Character
    public var style: Style
    /// True for the right half of a double-width glyph.
    public var isContinuation: Bool

    public init(_ glyph: Character = " ", style: Style = .text, isContinuation: Bool = false) {
        self.glyph = glyph
        self.style = style
        self.isContinuation = isContinuation
    }

    public static let blank = Cell()
}
