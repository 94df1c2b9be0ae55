/// Every key binding of the workbench, one `KeyTable` per `KeyContext`. The reducer resolves keys
/// through the tables of the active contexts, and the `?` overlay and the README's key table are
/// generated from the same tables, so the three cannot disagree.
public struct Keymap: Sendable {
    /// One table per context, in `KeyContext.allCases` order (the order of the overlay and README).
    public let tables: [KeyTable]

    /// - Precondition: one table for every context, and the main-view contexts after the Compare
    ///   view (Layers table, allocation, anywhere) share no key, so their order cannot matter.
    public init(_ tables: [KeyTable]) {
        precondition(tables.map(\.context) == KeyContext.allCases, "one table per context, in KeyContext order")
        self.tables = tables
        var seen: Set<Key> = []
        for table in tables where [.layers, .tradeoff, .global].contains(table.context) {
            precondition(seen.isDisjoint(with: table.boundKeys), "a key is bound in two main-view contexts")
            seen.formUnion(table.boundKeys)
        }
    }

    public func table(_ context: KeyContext) -> KeyTable {
        tables[KeyContext.allCases.firstIndex(of: context)!]
    }

    /// The action of `key` in the first of `contexts` that has one, and that context.
    public func resolve(_ key: Key, in contexts: [KeyContext]) -> (action: Action, context: KeyContext)? {
        for context in contexts {
            if let action = table(context).action(for: key) { return (action, context) }
        }
        return nil
    }

    /// The keys bound to `action` in the first table that binds it (for hints such as "? help").
    public func keys(for action: Action) -> [Key] {
        tables.lazy.map { $0.keys(for: action) }.first { !$0.isEmpty } ?? []
    }

    /// The README's key table without its header: every context's rows, in table order.
    public var markdownRows: [String] { tables.flatMap(\.markdownRows) }
}
