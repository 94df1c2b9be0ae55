import Analysis

/// Small text helpers for fixed-width cells.
public enum Text {
    /// `text` cut to at most `width` columns, ending in "…" when it was cut.
    public static func truncate(_ text: String, to width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if DisplayWidth.of(text) <= width { return text }
        var result = ""
        var used = 0
        let room = width - DisplayWidth.of(ellipsis)
        for character in text {
            let w = DisplayWidth.of(character)
            if used + w > room { break }
            result.append(character)
            used += w
        }
        return room > 0 ? result + ellipsis : String(ellipsis.prefix(width))
    }

    /// `text` cut to at most `width` columns by dropping its start, beginning with "…" when it was
    /// cut: for paths, whose end (the file name) tells them apart.
    public static func truncateHead(_ text: String, to width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if DisplayWidth.of(text) <= width { return text }
        let room = width - DisplayWidth.of(ellipsis)
        guard room > 0 else { return String(ellipsis.prefix(width)) }
        return ellipsis + lastColumns(of: text, room)
    }

    /// `text` cut to at most `width` columns by dropping its middle, with "…" where it was cut: for
    /// layer names such as `/encoder/layer.0/attention/self/query/MatMul`, whose start says where
    /// they are and whose end which of several siblings they are. The end gets the larger half.
    public static func truncateMiddle(_ text: String, to width: Int, ellipsis: String = "…") -> String {
        guard width > 0 else { return "" }
        if DisplayWidth.of(text) <= width { return text }
        let room = width - DisplayWidth.of(ellipsis)
        guard room > 1 else { return truncate(text, to: width, ellipsis: ellipsis) }
        let tail = lastColumns(of: text, (room + 1) / 2)
        let head = truncate(text, to: room - DisplayWidth.of(tail), ellipsis: "")
        return head + ellipsis + tail
    }

    /// The longest suffix of `text` at most `width` columns wide.
    private static func lastColumns(of text: String, _ width: Int) -> String {
        var kept: [Character] = []
        var used = 0
        for character in text.reversed() {
            let w = DisplayWidth.of(character)
            if used + w > width { break }
            kept.append(character)
            used += w
        }
        return String(kept.reversed())
    }

    /// `text` padded with spaces (or cut) to exactly `width` columns, aligned left or right.
    public static func pad(_ text: String, to width: Int, alignRight: Bool = false) -> String {
        let cut = truncate(text, to: width)
        let spaces = String(repeating: " ", count: max(0, width - DisplayWidth.of(cut)))
        return alignRight ? spaces + cut : cut + spaces
    }

    /// Fixed-point decimal in the C locale (`fixed(3.14159, 2)` = "3.14"), rounded as the command
    /// line's reports round (`NumberFormat.fixed`, printf's rounding of the exact value), so the
    /// screen and `qscope eval --plan` print the same digits; "nan"/"inf" spelled out, and no minus
    /// on a value that rounds to zero.
    public static func fixed(_ value: Double, _ decimals: Int) -> String {
        NumberFormat.fixed(value, decimals: decimals, signedZero: false)
    }

    /// A count with thousands separators: 1234567 -> "1,234,567".
    public static func grouped(_ value: Int) -> String {
        let digits = String(abs(value))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return value < 0 ? "-" + out : out
    }
}
