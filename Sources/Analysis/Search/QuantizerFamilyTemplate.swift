import Executor
/// A quantizer family with the bit-width left open: the search instantiates it at every width of its
/// bit set.
///
/// Written as a spec string (`QuantizerSpec` grammar) whose head names the family with the width
/// either missing or spelled `B`: `int`, `intB`, `intB:asym:group=64`, `fp`, `pot`, `lutB:sparse=0.5`,
/// `split3:intB`. Instantiating replaces the `B` (or appends the width to the family word) and parses
/// the result, so a family that does not exist at a width (fp3, pot8) is refused by the same grammar
/// that plan files use.
public struct QuantizerFamilyTemplate: Hashable, Sendable, CustomStringConvertible {
    /// The template as the user wrote it.
    public let text: String

    /// The default family: symmetric per-channel integers.
    public static let integer = QuantizerFamilyTemplate(uncheckedText: "intB")

    private init(uncheckedText: String) { text = uncheckedText }

    /// Checks that `text` instantiates to a valid spec at every width of `bitWidths`.
    /// - Throws: `QScopeError` naming the template and the first width it cannot express.
    public init(_ text: String, bitWidths: [Int]) throws {
        self.text = text
        for bits in bitWidths { _ = try spec(bits: bits) }
    }

    public var description: String { text }

    /// The spec of this family at `bits`.
    /// - Throws: `QScopeError` ("--family fp cannot express 3 bits: ...") when the grammar rejects it.
    public func spec(bits: Int) throws -> QuantizerSpec {
        var tokens = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        // `split3:SPEC` keeps its family word; the width belongs to the inner spec's head.
        let headIndex = tokens.first?.lowercased() == "split3" && tokens.count > 1 ? 1 : 0
        guard headIndex < tokens.count, !tokens[headIndex].isEmpty else {
            throw QScopeError("--family '\(text)' is empty; give a family such as intB, fp, pot or lutB")
        }
        var head = tokens[headIndex]
        if let placeholder = head.firstIndex(where: { $0 == "B" || $0 == "b" }), head.last == "B" || head.last == "b" {
            head.replaceSubrange(placeholder..., with: String(bits))
        } else if head.last?.isNumber == true {
            throw QScopeError("--family '\(text)' fixes the bit-width; write the family without it (e.g. intB or int)")
        } else {
            head += String(bits)
        }
        tokens[headIndex] = head
        let instantiated = tokens.joined(separator: ":")
        do {
            return try QuantizerSpec(parsing: instantiated)
        } catch let error as QScopeError {
            throw QScopeError("--family '\(text)' cannot express \(bits) bits: \(error.message)")
        }
    }
}
