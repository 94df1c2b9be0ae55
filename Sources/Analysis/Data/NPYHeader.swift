import Executor
/// The header dictionary of a `.npy` file: `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`.
///
/// The header is a Python literal that numpy reads with `ast.literal_eval`, so any writer may order the
/// keys freely, use either quote style, add whitespace, or (Python 2 era files) write `3L` for an int.
/// A small recursive-descent parser reads that literal subset exactly, instead of pattern-matching the
/// text numpy happens to write today.
struct NPYHeader: Equatable, Sendable {
    /// The `descr` string, e.g. `"<f4"` or `"|u1"`.
    var descr: String
    /// The `fortran_order` flag: true when the data is stored column-major.
    var fortranOrder: Bool
    /// The `shape` tuple: `[]` for a 0-d array, `[n]` for `(n,)`.
    var shape: [Int]

    /// Parses and validates the header text (the bytes between the length field and the data).
    ///
    /// Requires exactly the keys `descr`, `fortran_order` and `shape`, as numpy itself does.
    /// - Throws: `QScopeError(file: file, ...)` for malformed text, missing or unexpected keys, values of
    ///   the wrong kind, negative dimensions, or a structured (list) `descr`.
    static func parse(_ text: [UInt8], file: String) throws -> NPYHeader {
        var parser = PythonLiteralParser(text: text)
        let literal: PythonLiteral
        do {
            literal = try parser.parseDocument()
        } catch let error as PythonLiteralParser.Failure {
            throw QScopeError(file: file, "malformed .npy header: \(error.message) at byte \(error.offset) of the header")
        }
        guard case .dict(let entries) = literal else {
            throw QScopeError(file: file, "malformed .npy header: it is not a dictionary")
        }
        var values: [String: PythonLiteral] = [:]
        for (key, value) in entries {
            guard case .string(let name) = key else {
                throw QScopeError(file: file, "malformed .npy header: a key is not a string")
            }
            guard ["descr", "fortran_order", "shape"].contains(name) else {
                throw QScopeError(file: file, "malformed .npy header: unexpected key '\(name)'")
            }
            values[name] = value  // a repeated key keeps its last value, as Python's dict display does
        }
        func required(_ key: String) throws -> PythonLiteral {
            guard let value = values[key] else {
                throw QScopeError(file: file, "malformed .npy header: no '\(key)' entry")
            }
            return value
        }

        let descr: String
        switch try required("descr") {
        case .string(let text): descr = text
        case .list:
            throw QScopeError(file: file, "unsupported dtype: a structured array (record fields); save a plain numeric array")
        default:
            throw QScopeError(file: file, "malformed .npy header: 'descr' is not a string")
        }

        guard case .bool(let fortranOrder) = try required("fortran_order") else {
            throw QScopeError(file: file, "malformed .npy header: 'fortran_order' is not True or False")
        }

        guard case .tuple(let items) = try required("shape") else {
            throw QScopeError(file: file, "malformed .npy header: 'shape' is not a tuple")
        }
        var shape: [Int] = []
        for item in items {
            guard case .integer(let dim) = item else {
                throw QScopeError(file: file, "malformed .npy header: 'shape' holds something other than integers")
            }
            guard dim >= 0 else {
                throw QScopeError(file: file, "malformed .npy header: negative dimension \(dim) in 'shape'")
            }
            shape.append(dim)
        }
        return NPYHeader(descr: descr, fortranOrder: fortranOrder, shape: shape)
    }
}

/// The Python literal values that can appear in a `.npy` header.
indirect enum PythonLiteral: Sendable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case none
    case tuple([PythonLiteral])
    case list([PythonLiteral])
    /// Entries in the order written (keys are literals too; the header validation requires strings).
    case dict([(PythonLiteral, PythonLiteral)])
}

/// Recursive-descent parser for the literal subset above: strings, integers (with an optional
/// Python 2 `L` suffix), `True`/`False`/`None`, tuples, lists and dicts, with trailing commas.
///
/// Nesting is capped so that a crafted header like `((((...` cannot exhaust the stack.
struct PythonLiteralParser {
    struct Failure: Error {
        var message: String
        var offset: Int
    }

    private let text: [UInt8]
    private var position = 0
    private static let maximumDepth = 32

    init(text: [UInt8]) {
        self.text = text
    }

    /// Parses one literal followed only by padding (spaces, newlines, tabs, NULs).
    mutating func parseDocument() throws -> PythonLiteral {
        let value = try parseValue(depth: 0)
        skipWhitespace(allowingNUL: true)
        guard position == text.count else { throw fail("unexpected \(describeCurrent()) after the dictionary") }
        return value
    }

    private mutating func parseValue(depth: Int) throws -> PythonLiteral {
        guard depth < Self.maximumDepth else { throw fail("nesting deeper than \(Self.maximumDepth) levels") }
        skipWhitespace(allowingNUL: false)
        guard let byte = current else { throw fail("unexpected end of text") }
        switch byte {
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"):
            return .integer(try parseInteger())
        case UInt8(ascii: "("):
            position += 1
            let (items, sawComma) = try parseSequence(until: UInt8(ascii: ")"), depth: depth)
            // `(3)` is a parenthesised 3 in Python; only `(3,)`, `()` and `(3, 4)` are tuples.
            if items.count == 1 && !sawComma { return items[0] }
            return .tuple(items)
        case UInt8(ascii: "["):
            position += 1
            return .list(try parseSequence(until: UInt8(ascii: "]"), depth: depth).items)
        case UInt8(ascii: "{"):
            position += 1
            return try parseDict(depth: depth)
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "_"):
            let start = position
            let name = readIdentifier()
            switch name {
            case "True": return .bool(true)
            case "False": return .bool(false)
            case "None": return .none
            default:
                position = start
                throw fail("unknown name '\(name)'")
            }
        default:
            throw fail("unexpected \(describeCurrent())")
        }
    }

    /// Items separated by commas up to `terminator`; reports whether any comma was seen.
    private mutating func parseSequence(until terminator: UInt8, depth: Int) throws -> (items: [PythonLiteral], sawComma: Bool) {
        var items: [PythonLiteral] = []
        var sawComma = false
        while true {
            skipWhitespace(allowingNUL: false)
            if current == terminator {
                position += 1
                return (items, sawComma)
            }
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace(allowingNUL: false)
            if current == UInt8(ascii: ",") {
                sawComma = true
                position += 1
            } else if current == terminator {
                position += 1
                return (items, sawComma)
            } else {
                throw fail("expected ',' or '\(Character(Unicode.Scalar(terminator)))' but found \(describeCurrent())")
            }
        }
    }

    private mutating func parseDict(depth: Int) throws -> PythonLiteral {
        var entries: [(PythonLiteral, PythonLiteral)] = []
        while true {
            skipWhitespace(allowingNUL: false)
            if current == UInt8(ascii: "}") {
                position += 1
                return .dict(entries)
            }
            let key = try parseValue(depth: depth + 1)
            skipWhitespace(allowingNUL: false)
            guard current == UInt8(ascii: ":") else { throw fail("expected ':' but found \(describeCurrent())") }
            position += 1
            let value = try parseValue(depth: depth + 1)
            entries.append((key, value))
            skipWhitespace(allowingNUL: false)
            if current == UInt8(ascii: ",") {
                position += 1
            } else if current == UInt8(ascii: "}") {
                position += 1
                return .dict(entries)
            } else {
                throw fail("expected ',' or '}' but found \(describeCurrent())")
            }
        }
    }

    private mutating func parseString() throws -> String {
        guard let quote = current else { throw fail("unexpected end of text") }
        let start = position
        position += 1
        var bytes: [UInt8] = []
        while let byte = current {
            position += 1
            if byte == quote { return String(decoding: bytes, as: UTF8.self) }
            if byte == UInt8(ascii: "\n") { break }
            if byte == UInt8(ascii: "\\") {
                guard let escaped = current else { break }
                position += 1
                switch escaped {
                case UInt8(ascii: "n"): bytes.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "t"): bytes.append(UInt8(ascii: "\t"))
                case UInt8(ascii: "r"): bytes.append(UInt8(ascii: "\r"))
                case UInt8(ascii: "0"): bytes.append(0)
                default: bytes.append(escaped)  // \\ \' \" and anything else: the character itself
                }
            } else {
                bytes.append(byte)
            }
        }
        position = start
        throw fail("unterminated string")
    }

    private mutating func parseInteger() throws -> Int {
        let start = position
        var negative = false
        if current == UInt8(ascii: "-") || current == UInt8(ascii: "+") {
            negative = current == UInt8(ascii: "-")
            position += 1
        }
        // Accumulate negatively so that Int.min parses; Python ints are unbounded, ours are not.
        var value = 0
        var digits = 0
        while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = times10.subtractingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else {
                position = start
                throw fail("integer too large")
            }
            value = next
            digits += 1
            position += 1
        }
        guard digits > 0 else {
            position = start
            throw fail("expected a number")
        }
        if current == UInt8(ascii: "L") || current == UInt8(ascii: "l") { position += 1 }  // Python 2 long
        if negative { return value }
        guard value != Int.min else {
            position = start
            throw fail("integer too large")
        }
        return -value
    }

    private mutating func readIdentifier() -> String {
        let start = position
        while let byte = current,
              (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") {
            position += 1
        }
        return String(decoding: text[start..<position], as: UTF8.self)
    }

    private mutating func skipWhitespace(allowingNUL: Bool) {
        while let byte = current,
              byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\t") || (allowingNUL && byte == 0) {
            position += 1
        }
    }

    private var current: UInt8? { position < text.count ? text[position] : nil }

    private func describeCurrent() -> String {
        guard let byte = current else { return "end of text" }
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16))"
    }

    private func fail(_ message: String) -> Failure {
        Failure(message: message, offset: position)
    }
}
