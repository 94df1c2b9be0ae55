/// The drawing characters: Unicode box drawing and block elements, or ASCII for terminals whose
/// locale is not UTF-8 (chosen at start-up from `nl_langinfo(CODESET)`).
public struct GlyphSet: Hashable, Sendable {
    public struct Box: Hashable, Sendable {
        public var horizontal, vertical, topLeft, topRight, bottomLeft, bottomRight: Character
    }

    public var box: Box
    /// Vertical bar levels from empty to full (index 0 = empty).
    public var bars: [Character]
    /// Horizontal meter: full and empty cell.
    public var meterFull: Character
    public var meterEmpty: Character
    /// The mark of a quantization grid level over a histogram.
    public var gridMark: Character
    public var selectionMarker: Character
    public var ellipsis: String

    public static let unicode = GlyphSet(
        box: Box(horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐", bottomLeft: "└", bottomRight: "┘"),
        bars: [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"], meterFull: "█", meterEmpty: "░", gridMark: "┆",
        selectionMarker: "▶", ellipsis: "…")

    public static let ascii = GlyphSet(
        box: Box(horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+"),
        bars: [" ", ".", ".", ":", ":", "=", "=", "#", "#"], meterFull: "#", meterEmpty: ".", gridMark: "|",
        selectionMarker: ">", ellipsis: "~")
}
