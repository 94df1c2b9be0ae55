import Analysis
import Executor
import Foundation

/// The budget typed at the `a` prompt: bits per weight (`3.5`, `3.5 bits`) or megabytes of 2^20
/// bytes (`0.05MB`, `0.05 MB`, `0.05mb`); both count metadata, as `qscope search` does.
public enum BudgetInput {
    /// The budget of `text`.
    /// - Throws: `QScopeError` with one line naming the text and what is wrong.
    public static func parse(_ text: String) throws -> SizeBudget {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw QScopeError("no budget given: type bits per weight (3.5) or megabytes (0.05MB)") }
        let lower = trimmed.lowercased()
        var number = lower
        var megabytes = false
        for suffix in ["mb", "mib", "bits/w", "bits", "bit", "b"] where number.hasSuffix(suffix) {
            megabytes = suffix.hasPrefix("m")
            number = String(number.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            break
        }
        guard let value = Double(number), value.isFinite else {
            throw QScopeError("budget '\(trimmed)' is not a number: type bits per weight (3.5) or megabytes (0.05MB)")
        }
        guard value > 0 else { throw QScopeError("budget '\(trimmed)' must be positive") }
        if !megabytes && value > 32 {
            throw QScopeError("budget '\(trimmed)' is above 32 bits per weight; for megabytes add MB (\(trimmed)MB)")
        }
        return megabytes ? .megabytes(value) : .averageBits(value)
    }

    /// The budget as the status line says it: "3.5 bits/w" or "0.05 MB".
    public static func describe(_ budget: SizeBudget) -> String {
        switch budget {
        case .averageBits(let value): return "\(short(value)) bits/w"
        case .megabytes(let value): return "\(short(value)) MB"
        }
    }

    /// `4` rather than `4.0`; otherwise Swift's shortest round-trip spelling (`3.5`, `0.05`).
    static func short(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }
}
