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

    /// `"<file>: <message>"`, or just the message when there is no file. Always a single line.
    public var description: String {
        let text = file.map { "\($0): \(message)" } ?? message
        return text.replacingOccurrences(of: "\n", with: " ")
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
