import Foundation

/// The one error type that reaches the user.
///
/// Every failure caused by input (a missing or corrupt file, an unsupported op, a data file whose
/// shape does not fit the model, an unreadable plan) is reported as one line: the file it concerns
/// and what is wrong with it. The CLI prints `description` to standard error and exits non-zero;
/// nothing is ever reported through a trap.
public struct QScopeError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file the problem is about, as the user named it; nil when no file is involved.
    public var file: String?
    /// What is wrong, as a lower-case sentence fragment without a trailing period.
    public var message: String

    public init(file: String? = nil, _ message: String) {
        self.file = file
        self.message = message
    }

    /// `"<file>: <message>"`, or just the message when there is no file. Always a single line, and
    /// never a terminal control sequence: control characters in either part are escaped.
    public var description: String {
        let text = file.map { "\(Self.printable($0)): \(message)" } ?? message
        return Self.printable(text.replacingOccurrences(of: "\n", with: " "))
    }

    /// `text` with every control character (C0, DEL, C1) written as `\u{1B}`: names taken from an
    /// input file (layer names, paths, keys) are echoed in messages, and an ESC or BEL in them must
    /// not drive the terminal that shows the message.
    public static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// The one line to show for any error: a `QScopeError`'s description, else the error's own text
    /// (what engines publish and the workbench shows when a background job fails).
    public static func message(for error: Error) -> String {
        (error as? QScopeError)?.description ?? "\(error)"
    }

    /// The same error, attributed to `file` unless it already names one.
    public func inFile(_ file: String) -> QScopeError {
        var copy = self
        if copy.file == nil { copy.file = file }
        return copy
    }
}
