/// The key bindings of one `KeyContext`, in the order the `?` overlay and the README list them.
public struct KeyTable: Sendable {
    /// One or more keys for one action, with one short line of help.
    public struct Binding: Sendable, Hashable {
        public var action: Action
        public var keys: [Key]
        public var help: String

        public init(_ action: Action, _ keys: [Key], _ help: String) {
            self.action = action
            self.keys = keys
            self.help = help
        }
    }

    /// What the keys that a modal table does not bind do ("any other key closes", typing text).
    public struct OtherKeys: Sendable, Hashable {
        public enum Scope: Sendable, Hashable {
            /// Every key the table does not bind.
            case anyKey
            /// Printable characters, space included; other unbound keys (arrows, F-keys) do nothing.
            case characters
        }

        public var action: Action
        public var scope: Scope
        public var help: String

        public init(_ action: Action, _ scope: Scope, _ help: String) {
            self.action = action
            self.scope = scope
            self.help = help
        }

        /// How the help overlay and the README name these keys.
        public var label: String {
            switch scope {
            case .anyKey: return "other keys"
            case .characters: return "characters"
            }
        }

        func applies(to key: Key) -> Bool {
            switch scope {
            case .anyKey: return true
            case .characters:
                if case .character = key { return true }
                return false
            }
        }
    }

    public let context: KeyContext
    public let bindings: [Binding]
    public let otherKeys: OtherKeys?
    private let lookup: [Key: Action]

    /// - Precondition: no key is bound twice in one table.
    public init(_ context: KeyContext, _ bindings: [Binding], otherKeys: OtherKeys? = nil) {
        self.context = context
        self.bindings = bindings
        self.otherKeys = otherKeys
        var lookup: [Key: Action] = [:]
        for binding in bindings {
            for key in binding.keys {
                precondition(lookup[key] == nil, "key \(key.label) bound twice in \(context)")
                lookup[key] = binding.action
            }
        }
        self.lookup = lookup
    }

    /// The action of `key` here: its binding, else `otherKeys` when it applies, else nil.
    public func action(for key: Key) -> Action? {
        if let action = lookup[key] { return action }
        if let otherKeys, otherKeys.applies(to: key) { return otherKeys.action }
        return nil
    }

    /// The keys bound to `action` in this table (empty when only `otherKeys` reaches it).
    public func keys(for action: Action) -> [Key] { bindings.first { $0.action == action }?.keys ?? [] }

    /// Every key bound here.
    public var boundKeys: Set<Key> { Set(lookup.keys) }

    /// The table's lines as a person reads them: keys (`↑ k`, `other keys`) and help, in order.
    public var entries: [(keys: String, help: String)] {
        var out = bindings.map { binding in (binding.keys.map(\.displayName).joined(separator: " "), binding.help) }
        if let otherKeys { out.append((otherKeys.label, otherKeys.help)) }
        return out
    }

    /// Markdown table rows for the README: a bold heading row with the context's title, then one
    /// row per binding (keys in backticks) and the `otherKeys` row (its label in italics).
    public var markdownRows: [String] {
        var rows = ["| **\(context.title)** | |"]
        rows += bindings.map { binding in
            "| " + binding.keys.map { "`\($0.displayName)`" }.joined(separator: " ") + " | \(binding.help) |"
        }
        if let otherKeys { rows.append("| *\(otherKeys.label)* | \(otherKeys.help) |") }
        return rows
    }
}
