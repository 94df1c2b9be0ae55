/// Layer names shortened to a column so that different layers stay different on screen.
///
/// Exported names are paths (`/encoder/encoder/layer.0/attention/self/query/MatMul`) whose leading
/// segments are often the same for every layer, and whose distinguishing parts sit in the middle
/// (`layer.0`) and at the end (`query`). Cutting at the end would show several identical rows, so a
/// name that does not fit first loses a last segment that only names its op, then the leading
/// segments every layer shares (shown as `…`), then, if still too long, its middle
/// (`Text.truncateMiddle`).
public struct LayerNameAbbreviation: Sendable {
    /// The leading `/`-separated segments every name starts with, up to but excluding the `/` that
    /// starts the next segment; "" when there is none or fewer than two names.
    public let sharedPrefix: String

    public init(names: [String]) { sharedPrefix = Self.sharedSegments(names) }

    static func sharedSegments(_ names: [String]) -> String {
        guard names.count > 1, let first = names.first else { return "" }
        var shared = ""
        var searchFrom = first.startIndex
        // Every "/" of the first name ends a candidate: the segments before it.
        while let slash = first[searchFrom...].firstIndex(of: "/") {
            defer { searchFrom = first.index(after: slash) }
            let prefix = String(first[..<slash])
            if prefix.isEmpty { continue }
            guard names.allSatisfy({ $0.hasPrefix(prefix + "/") && $0.count > prefix.count + 1 }) else { break }
            shared = prefix
        }
        return shared
    }

    /// `name` in at most `width` columns: unchanged when it fits. A last segment that only repeats
    /// the op (`/layer1/conv1/Conv`), which the table shows in its own column, goes first.
    public func abbreviate(_ name: String, opType: String? = nil, to width: Int) -> String {
        guard DisplayWidth.of(name) > width else { return name }
        if let opType, name.hasSuffix("/" + opType), name.count > opType.count + 1 {
            return abbreviate(String(name.dropLast(opType.count + 1)), to: width)
        }
        var rest = name
        if !sharedPrefix.isEmpty, name.hasPrefix(sharedPrefix) {
            rest = "…" + name.dropFirst(sharedPrefix.count)
        }
        return Text.truncateMiddle(rest, to: width)
    }
}
