import Analysis
import Executor
import Foundation

/// Reads `themes/*.theme` files: a TOML subset of `[section]` headers, `key = "value"` lines and `#`
/// comments.
///
///     [palette]                     # named colours: "#rrggbb" or "default" (terminal default)
///     fg = "#c8ccd4"
///     [roles]                       # role = "FG [on BG] [bold] [dim] [reverse] [underline]"
///     selection = "fg on selbg bold"
///     [gradients]
///     heat = ["green", "yellow", "red"]
///     [mono]                        # attributes on terminals without colour ("none" for plain)
///     selection = "reverse"
///
/// A top-level `name = "..."` names the theme (default: the file name). Every error names the file
/// and line: unknown section, role, palette colour or attribute, malformed line or colour.
public enum ThemeParser {
    /// Parses `text` on top of `base` (only the keys the file names change).
    /// - Parameter file: the path used in error messages.
    public static func parse(_ text: String, file: String, base: Theme = .builtIn) throws -> Theme {
        var theme = base
        theme.name = fileStem(file)
        var section = ""
        var pendingRoles: [(line: Int, role: Role, spec: String)] = []
        var pendingHeat: (line: Int, names: [String])?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            func fail(_ message: String) -> QScopeError { QScopeError(file: file, "line \(number): \(message)") }
            let line = stripComment(String(rawLine)).trimmingSpaces
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw fail("malformed section header '\(line)'") }
                section = String(line.dropFirst().dropLast()).trimmingSpaces
                guard ["palette", "roles", "gradients", "mono"].contains(section) else {
                    throw fail("unknown section [\(section)] (expected palette, roles, gradients or mono)")
                }
                continue
            }
            guard let equals = line.firstIndex(of: "=") else { throw fail("expected 'key = \"value\"', got '\(line)'") }
            let key = String(line[..<equals]).trimmingSpaces
            let rawValue = String(line[line.index(after: equals)...]).trimmingSpaces
            guard !key.isEmpty else { throw fail("missing key before '='") }
            switch section {
            case "":
                guard key == "name" else { throw fail("unknown key '\(key)' outside a section") }
                theme.name = try quoted(rawValue, fail)
            case "palette":
                let value = try quoted(rawValue, fail)
                guard let colour = ThemeColor(parsing: value) else {
                    throw fail("colour '\(value)' is not #rrggbb or default")
                }
                theme.palette[key] = colour
            case "roles":
                guard let role = Role(rawValue: key) else { throw fail("unknown role '\(key)' (roles: \(roleList))") }
                pendingRoles.append((number, role, try quoted(rawValue, fail)))
            case "gradients":
                guard key == "heat" else { throw fail("unknown gradient '\(key)' (expected heat)") }
                pendingHeat = (number, try list(rawValue, fail))
            default:  // mono
                guard let role = Role(rawValue: key) else { throw fail("unknown role '\(key)' (roles: \(roleList))") }
                let words = try quoted(rawValue, fail).split(separator: " ").map(String.init)
                var attributes: TextAttributes = []
                for word in words where word != "none" {
                    guard let attribute = attributeNames[word] else { throw fail("unknown attribute '\(word)'") }
                    attributes.insert(attribute)
                }
                theme.mono[role] = attributes
            }
        }
        // Roles and gradients may name palette colours defined further down, so resolve them last.
        for (number, role, spec) in pendingRoles {
            theme.roles[role] = try roleStyle(spec, palette: theme.palette) {
                QScopeError(file: file, "line \(number): \($0)")
            }
        }
        if let (number, names) = pendingHeat {
            guard names.count >= 2 else { throw QScopeError(file: file, "line \(number): heat needs at least 2 colours") }
            theme.heatStops = try names.map { name in
                guard let colour = theme.palette[name] else {
                    throw QScopeError(file: file, "line \(number): unknown palette colour '\(name)'")
                }
                return colour
            }
        }
        return theme
    }

    /// Reads and parses a theme file.
    public static func load(path: String, base: Theme = .builtIn) throws -> Theme {
        guard let data = FileManager.default.contents(atPath: path) else { throw QScopeError(file: path, "cannot read the theme file") }
        guard let text = String(validating: data, as: UTF8.self) else { throw QScopeError(file: path, "is not UTF-8 text") }
        return try parse(text, file: path, base: base)
    }

    static let attributeNames: [String: TextAttributes] = [
        "bold": .bold, "dim": .dim, "reverse": .reverse, "underline": .underline,
    ]
    static var roleList: String { Role.allCases.map(\.rawValue).joined(separator: ", ") }

    static func roleStyle(_ spec: String, palette: [String: ThemeColor],
                          _ fail: (String) -> QScopeError) throws -> Theme.RoleStyle {
        var words = spec.split(separator: " ").map(String.init)
        guard let first = words.first else { throw fail("empty role value") }
        guard let foreground = palette[first] else { throw fail("unknown palette colour '\(first)'") }
        words.removeFirst()
        var background = ThemeColor.terminalDefault
        if words.first == "on" {
            guard words.count >= 2, let colour = palette[words[1]] else {
                throw fail("'on' must be followed by a palette colour")
            }
            background = colour
            words.removeFirst(2)
        }
        var attributes: TextAttributes = []
        for word in words {
            guard let attribute = attributeNames[word] else { throw fail("unknown attribute '\(word)'") }
            attributes.insert(attribute)
        }
        return Theme.RoleStyle(foreground, on: background, attributes)
    }

    static func quoted(_ value: String, _ fail: (String) -> QScopeError) throws -> String {
        guard value.count >= 2, value.first == "\"", value.last == "\"" else {
            throw fail("value must be a quoted string, got \(value.isEmpty ? "nothing" : value)")
        }
        return String(value.dropFirst().dropLast())
    }

    static func list(_ value: String, _ fail: (String) -> QScopeError) throws -> [String] {
        guard value.first == "[", value.last == "]" else { throw fail("expected a list [\"a\", \"b\"]") }
        return try value.dropFirst().dropLast().split(separator: ",").map {
            try quoted(String($0).trimmingSpaces, fail)
        }
    }

    /// Drops a `#` comment that is not inside quotes (colours start with `#`).
    static func stripComment(_ line: String) -> String {
        var inQuotes = false
        for (offset, character) in line.enumerated() {
            if character == "\"" { inQuotes.toggle() }
            if character == "#" && !inQuotes { return String(line.prefix(offset)) }
        }
        return line
    }

    static func fileStem(_ path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return name.hasSuffix(".theme") ? String(name.dropLast(6)) : name
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\r" { s.removeLast() }
        return String(s)
    }
}
