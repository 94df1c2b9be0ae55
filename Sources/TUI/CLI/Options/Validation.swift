import ArgumentParser

/// Rejects a count below 1 with the message every command uses ("--limit must be at least 1").
/// nil (an option not given) passes.
package func requirePositive(_ value: Int?, _ option: String) throws {
    try requireAtLeast(1, value, option)
}

/// Rejects `value` below `minimum` ("--hessian-chunk must be at least 0"); nil passes.
package func requireAtLeast(_ minimum: Int, _ value: Int?, _ option: String) throws {
    if let problem = belowMinimum(minimum, value, option) { throw ValidationError(problem) }
}

/// The message for `value` below `minimum`, or nil when it is not (or not given): for commands that
/// report the problem as a one-line `QScopeError` instead of a usage error.
func belowMinimum(_ minimum: Int, _ value: Int?, _ option: String) -> String? {
    guard let value, value < minimum else { return nil }
    return "\(option) must be at least \(minimum)"
}
