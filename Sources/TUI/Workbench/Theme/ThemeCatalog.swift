import Analysis
import Executor
import Foundation

/// The themes the workbench can cycle through: every `*.theme` file of the themes folder, the
/// default (`dark`) first, then by name; plus a theme file given by path.
public struct ThemeCatalog: Sendable {
    public var themes: [Theme]

    /// The folder holding the shipped themes: `$QSCOPE_THEMES`, `./themes`, or `themes/` next to or
    /// above the executable (for `.build/release/qscope`); nil when none exists.
    public static func locateFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        var candidates: [String] = []
        if let override = environment["QSCOPE_THEMES"] { candidates.append(override) }
        candidates.append(FileManager.default.currentDirectoryPath + "/themes")
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(directory.appendingPathComponent("themes").path)
            directory.deleteLastPathComponent()
        }
        return candidates.first { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
        }
    }

    /// Loads every theme of `folder` (the built-in dark theme alone when nil or empty).
    /// - Throws: the first broken file's error (file and line).
    public static func load(folder: String?) throws -> ThemeCatalog {
        guard let folder, let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            return ThemeCatalog(themes: [.builtIn])
        }
        var themes: [Theme] = []
        for name in names.filter({ $0.hasSuffix(".theme") }).sorted() {
            themes.append(try ThemeParser.load(path: folder + "/" + name))
        }
        if themes.isEmpty { themes = [.builtIn] }
        themes.sort { ($0.name == "dark" ? 0 : 1, $0.name) < ($1.name == "dark" ? 0 : 1, $1.name) }
        return ThemeCatalog(themes: themes)
    }

    public var names: [String] { themes.map(\.name) }

    /// The index of the theme selected by `--theme`: a name in the catalogue or a file path (loaded
    /// and appended). - Throws: an unknown name, or a broken/unreadable file.
    public mutating func select(_ nameOrPath: String) throws -> Int {
        if let index = names.firstIndex(of: nameOrPath) { return index }
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".theme") {
            let theme = try ThemeParser.load(path: nameOrPath)
            themes.append(theme)
            return themes.count - 1
        }
        throw QScopeError(file: nameOrPath, "no such theme (themes: \(names.joined(separator: ", ")))")
    }
}
