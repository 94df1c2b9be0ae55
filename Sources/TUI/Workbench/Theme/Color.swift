/// A theme colour: 24-bit RGB, or the terminal's own default foreground/background.
public enum ThemeColor: Hashable, Sendable {
    case terminalDefault
    case rgb(UInt8, UInt8, UInt8)

    /// Parses `#rrggbb` or `default`; nil otherwise.
    public init?(parsing text: String) {
        if text == "default" {
            self = .terminalDefault
            return
        }
        guard text.count == 7, text.first == "#", let value = UInt32(text.dropFirst(), radix: 16) else { return nil }
        self = .rgb(UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF))
    }

    /// Linear interpolation between two RGB colours (`t` in 0...1); a default end stays default.
    public static func mix(_ a: ThemeColor, _ b: ThemeColor, _ t: Double) -> ThemeColor {
        guard case let .rgb(r0, g0, b0) = a, case let .rgb(r1, g1, b1) = b else { return t < 0.5 ? a : b }
        func lerp(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Double(x) + (Double(y) - Double(x)) * t).rounded()) }
        return .rgb(lerp(r0, r1), lerp(g0, g1), lerp(b0, b1))
    }
}

/// How many colours the terminal can show, from its terminfo entry and the environment.
public enum ColorTier: String, CaseIterable, Hashable, Sendable {
    case trueColor, indexed256, ansi16, ansi8, mono

    /// Decides the tier: `NO_COLOR` (any non-empty value, no-color.org) or a terminal without colour
    /// gives `.mono`; otherwise the terminfo colour count (`COLORS`) picks the tier. True colour needs
    /// a `*-direct` entry (2^24 colours); `COLORTERM=truecolor` alone is not trusted because ncurses
    /// can only address the colours its terminfo entry declares.
    public static func detect(hasColors: Bool, colors: Int, environment: [String: String]) -> ColorTier {
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return .mono }
        guard hasColors, colors >= 8 else { return .mono }
        if colors >= 1 << 24 { return .trueColor }
        if colors >= 256 { return .indexed256 }
        if colors >= 16 { return .ansi16 }
        return .ansi8
    }
}

/// Maps RGB to the palette of a colour tier (btop's `truecolor_to_256`).
public enum ColorQuantizer {
    /// The nearest xterm-256 index: the 6x6x6 cube (16...231) or the grey ramp (232...255).
    public static func index256(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> Int {
        let levels: [Int] = [0, 95, 135, 175, 215, 255]
        func nearest(_ v: UInt8) -> Int {
            var best = 0
            for i in 1..<6 where abs(levels[i] - Int(v)) < abs(levels[best] - Int(v)) { best = i }
            return best
        }
        let (ri, gi, bi) = (nearest(r), nearest(g), nearest(b))
        let cubeDistance = distance((levels[ri], levels[gi], levels[bi]), (Int(r), Int(g), Int(b)))
        let grey = (Int(r) + Int(g) + Int(b)) / 3
        let greyIndex = min(23, max(0, (grey - 3) / 10))
        let greyLevel = 8 + 10 * greyIndex
        let greyDistance = distance((greyLevel, greyLevel, greyLevel), (Int(r), Int(g), Int(b)))
        return greyDistance < cubeDistance ? 232 + greyIndex : 16 + 36 * ri + 6 * gi + bi
    }

    /// The nearest of the 8 (or 16 with bright variants) ANSI colours, by a fixed reference palette.
    public static func indexANSI(_ r: UInt8, _ g: UInt8, _ b: UInt8, count: Int) -> Int {
        let reference: [(Int, Int, Int)] = [
            (0, 0, 0), (205, 49, 49), (13, 188, 121), (229, 229, 16), (36, 114, 200), (188, 63, 188), (17, 168, 205),
            (229, 229, 229), (102, 102, 102), (241, 76, 76), (35, 209, 139), (245, 245, 67), (59, 142, 234),
            (214, 112, 214), (41, 184, 219), (255, 255, 255),
        ]
        var best = 0
        for i in 1..<min(count, 16) where distance(reference[i], (Int(r), Int(g), Int(b))) < distance(reference[best], (Int(r), Int(g), Int(b))) {
            best = i
        }
        return best
    }

    private static func distance(_ a: (Int, Int, Int), _ b: (Int, Int, Int)) -> Int {
        let dr = a.0 - b.0, dg = a.1 - b.1, db = a.2 - b.2
        return 3 * dr * dr + 4 * dg * dg + 2 * db * db
    }
}
