/// What a cell *means*, not what colour it has: themes map roles to colours at the backend, so the
/// same buffer renders under every theme and buffer snapshots do not depend on one.
public enum Role: String, CaseIterable, Hashable, Sendable {
    /// Ordinary text.
    case text
    /// Secondary text: units, hints, disabled entries.
    case dim
    /// Titles, the focused panel's border, key labels.
    case accent
    /// Better than the reference (accuracy kept, high SQNR).
    case good
    /// Worse than the reference (accuracy lost, low SQNR), errors.
    case bad
    /// Cautionary values between good and bad.
    case warn
    /// The selected row.
    case selection
    /// Table headers.
    case header
    /// Panel borders.
    case border
    /// The status line's background.
    case status
    /// Histogram bars.
    case bar
    /// Quantization grid marks drawn over a histogram.
    case grid
    /// Modal overlays (help, prompts).
    case overlay
    /// A gradient cell; the level (0...100) in `Style.level` picks the colour.
    case heat
}

/// Attributes that terminals can show without colour.
public struct TextAttributes: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let bold = TextAttributes(rawValue: 1)
    public static let dim = TextAttributes(rawValue: 2)
    public static let reverse = TextAttributes(rawValue: 4)
    public static let underline = TextAttributes(rawValue: 8)
}

/// A cell's style: a semantic role, a gradient level for `.heat` (0...100), extra attributes.
public struct Style: Hashable, Sendable {
    public var role: Role
    /// 0...100 along the theme's heat gradient; meaningful for `.heat` only.
    public var level: UInt8
    public var attributes: TextAttributes

    public init(_ role: Role = .text, level: Int = 0, attributes: TextAttributes = []) {
        self.role = role
        self.level = UInt8(clamping: min(max(level, 0), 100))
        self.attributes = attributes
    }

    public static let text = Style(.text)
    public static let dim = Style(.dim)
    public static let accent = Style(.accent)
    public static let good = Style(.good)
    public static let bad = Style(.bad)
    public static let warn = Style(.warn)
    public static let header = Style(.header)
    public static let border = Style(.border)
    public static let selection = Style(.selection)
    public static let status = Style(.status)
    public static let overlay = Style(.overlay)

    /// The same style with `attributes` added.
    public func with(_ extra: TextAttributes) -> Style {
        var copy = self
        copy.attributes.formUnion(extra)
        return copy
    }
}
