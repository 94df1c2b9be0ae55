import CQScopeCurses
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Workbench

/// The ncurses backend: opens the terminal, paints cells, reads keys and mouse events.
///
/// Touched by the main thread only (ncurses is not thread-safe): the runtime creates it, draws and
/// reads keys on the same thread, and closes it in a `defer`. Colours are resolved here from the
/// theme and the terminal's colour tier; buffers carry only semantic roles.
public final class CursesTerminal: TerminalBackend {
    public private(set) var size: Size
    public let colorTier: ColorTier
    /// True when the locale is UTF-8 (else draw with the ASCII glyph set).
    public let unicode: Bool
    private var theme: Theme
    private var styleCache: [Style: (attr_t, Int32)] = [:]
    private var isOpen = true

    /// Opens the terminal. - Throws: `CursesError` when TERM is unknown or there is no terminal.
    public init(theme: Theme, environment: [String: String]) throws {
        guard qc_open() == 0 else {
            throw CursesError("cannot open the terminal (TERM=\(environment["TERM"] ?? "unset"))")
        }
        qc_enable_mouse()
        size = Size(width: Int(qc_cols()), height: Int(qc_rows()))
        colorTier = ColorTier.detect(hasColors: has_colors(), colors: Int(qc_colors()), environment: environment)
        unicode = qc_locale_is_utf8() != 0
        self.theme = theme
    }

    /// Leaves curses mode and restores the terminal (also done by the signal guards on a crash).
    public func close() {
        guard isOpen else { return }
        isOpen = false
        qc_close()
    }

    deinit { close() }

    /// Switches colours; the caller repaints everything afterwards.
    public func setTheme(_ theme: Theme) {
        self.theme = theme
        styleCache.removeAll()
    }

    // MARK: - TerminalBackend

    public func draw(_ changes: [(x: Int, y: Int, cell: Cell)]) {
        var text = [wchar_t](repeating: 0, count: 6)
        for change in changes {
            let (attributes, pair) = resolve(change.cell.style)
            var i = 0
            for scalar in change.cell.glyph.unicodeScalars.prefix(5) {
                text[i] = wchar_t(bitPattern: scalar.value)
                i += 1
            }
            text[i] = 0
            qc_put_cell(Int32(change.y), Int32(change.x), text, attributes, pair)
        }
    }

    public func flush() { refresh() }

    public func clear() {
        qc_clear()
    }

    /// Re-reads the size after a resize.
    public func updateSize() {
        size = Size(width: Int(qc_cols()), height: Int(qc_rows()))
    }

    // MARK: - Input

    /// Reads one input event, waiting at most `timeoutMilliseconds` (0 = only what is pending).
    public func readEvent(timeoutMilliseconds: Int32) -> InputEvent? {
        var code: UInt32 = 0
        let rc = qc_read_key(timeoutMilliseconds, &code)
        if rc == ERR { return nil }
        if rc == KEY_CODE_YES {
            let key = Int32(code)
            if key == qc_key_resize() {
                updateSize()
                return .resize(size)
            }
            if key == qc_key_mouse() {
                var kind: Int32 = 0, x: Int32 = 0, y: Int32 = 0
                guard qc_read_mouse(&kind, &x, &y) == 0 else { return .ignored }
                switch kind {
                case 1: return .mouse(MouseEvent(.press, x: Int(x), y: Int(y)))
                case 4: return .mouse(MouseEvent(.wheelUp, x: Int(x), y: Int(y)))
                case 5: return .mouse(MouseEvent(.wheelDown, x: Int(x), y: Int(y)))
                default: return .ignored
                }
            }
            return Self.functionKey(key).map(InputEvent.key) ?? .ignored
        }
        return Self.characterKey(code).map(InputEvent.key) ?? .ignored
    }

    static func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_NPAGE: return .pageDown
        case KEY_PPAGE: return .pageUp
        case KEY_BACKSPACE: return .backspace
        case KEY_DC: return .delete
        case KEY_ENTER: return .enter
        case KEY_BTAB: return .tab
        case 265...276: return .function(Int(code) - 264)  // KEY_F(1)...KEY_F(12)
        default: return nil
        }
    }

    static func characterKey(_ code: UInt32) -> Key? {
        switch code {
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 9: return .tab
        case 1...26: return .control(Character(Unicode.Scalar(code + 96)!))
        default:
            guard let scalar = Unicode.Scalar(code), code >= 32 else { return nil }
            return .character(Character(scalar))
        }
    }

    // MARK: - Colours

    private func resolve(_ style: Style) -> (attr_t, Int32) {
        if let cached = styleCache[style] { return cached }
        let roleStyle = theme.style(style.role)
        var attributes: TextAttributes
        var pair: Int32 = 0
        if colorTier == .mono {
            attributes = theme.monoAttributes(style)
        } else {
            attributes = roleStyle.attributes.union(style.attributes)
            let foreground = style.role == .heat ? theme.heatColor(level: Int(style.level)) : roleStyle.foreground
            pair = alloc_pair(colorNumber(foreground), colorNumber(roleStyle.background))
            if pair < 0 { pair = 0 }
        }
        var attr: attr_t = 0
        if attributes.contains(.bold) { attr |= qc_attr_bold() }
        if attributes.contains(.dim) { attr |= qc_attr_dim() }
        if attributes.contains(.reverse) { attr |= qc_attr_reverse() }
        if attributes.contains(.underline) { attr |= qc_attr_underline() }
        styleCache[style] = (attr, pair)
        return (attr, pair)
    }

    private func colorNumber(_ color: ThemeColor) -> Int32 {
        guard case let .rgb(r, g, b) = color else { return -1 }
        switch colorTier {
        case .trueColor: return Int32(r) << 16 | Int32(g) << 8 | Int32(b)
        case .indexed256: return Int32(ColorQuantizer.index256(r, g, b))
        case .ansi16: return Int32(ColorQuantizer.indexANSI(r, g, b, count: 16))
        case .ansi8: return Int32(ColorQuantizer.indexANSI(r, g, b, count: 8))
        case .mono: return -1
        }
    }
}

/// An input event decoded by the backend.
public enum InputEvent: Sendable {
    case key(Key)
    case mouse(MouseEvent)
    case resize(Size)
    /// Something the workbench does not use (an unknown key, a mouse motion).
    case ignored
}

/// Failure to start the terminal, reported before anything is drawn.
public struct CursesError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
