import Analysis
import Executor

/// Colours and attributes for every `Role`, plus the heat gradient and the monochrome fallback.
///
/// Themes are files (`themes/*.theme`, see `ThemeParser`); each file overrides the built-in dark
/// theme only where it says something, so a partial theme is valid.
public struct Theme: Equatable, Sendable {
    /// Colour and attributes of one role.
    public struct RoleStyle: Equatable, Sendable {
        public var foreground: ThemeColor
        public var background: ThemeColor
        public var attributes: TextAttributes

        public init(_ foreground: ThemeColor, on background: ThemeColor = .terminalDefault, _ attributes: TextAttributes = []) {
            self.foreground = foreground
            self.background = background
            self.attributes = attributes
        }
    }

    public var name: String
    /// Named colours the roles refer to.
    public var palette: [String: ThemeColor]
    public var roles: [Role: RoleStyle]
    /// The heat gradient's stops (low to high); expanded to 101 levels by `heatColor(level:)`.
    public var heatStops: [ThemeColor]
    /// Attributes used instead of colours on a monochrome terminal.
    public var mono: [Role: TextAttributes]

    public init(name: String, palette: [String: ThemeColor], roles: [Role: RoleStyle], heatStops: [ThemeColor],
                mono: [Role: TextAttributes]) {
        self.name = name
        self.palette = palette
        self.roles = roles
        self.heatStops = heatStops
        self.mono = mono
    }

    /// The role's style (text's style for a role the theme leaves out).
    public func style(_ role: Role) -> RoleStyle { roles[role] ?? roles[.text] ?? RoleStyle(.terminalDefault) }

    /// The gradient colour at `level` (0...100), interpolated between the stops.
    public func heatColor(level: Int) -> ThemeColor {
        guard heatStops.count > 1 else { return heatStops.first ?? .terminalDefault }
        let t = Double(min(max(level, 0), 100)) / 100 * Double(heatStops.count - 1)
        let i = min(Int(t), heatStops.count - 2)
        return ThemeColor.mix(heatStops[i], heatStops[i + 1], t - Double(i))
    }

    /// Attributes for `role` on a monochrome terminal; heat cells get bold when high, dim when low.
    public func monoAttributes(_ style: Style) -> TextAttributes {
        var attributes = (mono[style.role] ?? []).union(style.attributes)
        if style.role == .heat {
            if style.level >= 67 { attributes.insert(.bold) } else if style.level < 34 { attributes.insert(.dim) }
        }
        return attributes
    }

    /// The built-in dark theme; also the base every theme file patches.
    public static let builtIn: Theme = {
        let palette: [String: ThemeColor] = [
            "default": .terminalDefault,
            "fg": .rgb(0xC8, 0xCC, 0xD4), "grey": .rgb(0x7A, 0x82, 0x8E), "blue": .rgb(0x61, 0xAF, 0xEF),
            "green": .rgb(0x98, 0xC3, 0x79), "yellow": .rgb(0xE5, 0xC0, 0x7B), "red": .rgb(0xE0, 0x6C, 0x75),
            "selbg": .rgb(0x3E, 0x44, 0x51), "statusbg": .rgb(0x21, 0x25, 0x2B), "cyan": .rgb(0x56, 0xB6, 0xC2),
        ]
        let p = { (name: String) in palette[name]! }
        return Theme(
            name: "dark", palette: palette,
            roles: [
                .text: RoleStyle(p("fg")), .dim: RoleStyle(p("grey")), .accent: RoleStyle(p("blue"), [.bold]),
                .good: RoleStyle(p("green")), .bad: RoleStyle(p("red")), .warn: RoleStyle(p("yellow")),
                .selection: RoleStyle(p("fg"), on: p("selbg"), [.bold]), .header: RoleStyle(p("blue"), [.bold]),
                .border: RoleStyle(p("grey")), .status: RoleStyle(p("fg"), on: p("statusbg")),
                .bar: RoleStyle(p("cyan")), .grid: RoleStyle(p("yellow")), .overlay: RoleStyle(p("fg"), on: p("statusbg")),
                .heat: RoleStyle(p("fg")),
            ],
            heatStops: [p("green"), p("yellow"), p("red")],
            mono: [.accent: [.bold], .header: [.bold, .underline], .selection: [.reverse], .dim: [.dim],
                   .bad: [.bold], .status: [.reverse], .overlay: [.reverse], .grid: [.bold]])
    }()
}
