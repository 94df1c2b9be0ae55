import Executor
import Foundation

/// A search budget on the quantizable layers' weight storage, metadata included (the "Size accounting" section of the quantization methods page in docs/).
public enum SizeBudget: Hashable, Sendable, CustomStringConvertible {
    /// Average bits per weight, metadata included: total bits ≤ value × #params.
    case averageBits(Double)
    /// Megabytes of 2^20 bytes, metadata included.
    case megabytes(Double)

    /// The budget in bits for a model with `parameters` quantizable weights, rounded down (a plan
    /// within the rounded budget is within the stated one).
    public func bits(parameters: Int) -> Int {
        switch self {
        case .averageBits(let value): return Int((value * Double(parameters)).rounded(.down))
        case .megabytes(let value): return Int((value * 1_048_576 * 8).rounded(.down))
        }
    }

    /// The budget in words ("a budget of 3.5 bits per weight"), for messages shown by the CLI and
    /// by the workbench alike (so no command-line flag names).
    public var description: String {
        switch self {
        case .averageBits(let value): return "a budget of \(value) bits per weight"
        case .megabytes(let value): return "a budget of \(value) MB"
        }
    }

    /// Checks that the smallest possible plan fits.
    /// - Throws: `QScopeError` stating the minimum in the budget's own unit and in the other one.
    public func check(against layers: [LayerCandidates]) throws -> Int {
        let parameters = layers.reduce(0) { $0 + $1.parameters }
        let budget = bits(parameters: parameters)
        let minimum = layers.reduce(0) { $0 + $1.candidates[$1.smallestIndex].totalBits }
        guard budget >= minimum else {
            let averageText = String(format: "%.4f", Double(minimum) / Double(max(parameters, 1)))
            let megabyteText = String(format: "%.6f", Double(minimum) / 8 / 1_048_576)
            throw QScopeError("\(description) is below the smallest plan of these candidates: "
                              + "\(averageText) bits per weight = \(megabyteText) MB (metadata included)")
        }
        return budget
    }
}
