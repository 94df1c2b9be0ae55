import Executor
/// The Wilson score interval for a binomial proportion (accuracy = correct / samples).
///
/// Unlike the normal approximation it stays inside [0, 1] and behaves at 0 % and 100 %.
/// `z` = 1.959964 gives the 95 % interval.
public struct WilsonInterval: Sendable, Equatable {
    public var lower: Double
    public var upper: Double

    public init(correct: Int, samples: Int, z: Double = 1.959963984540054) {
        guard samples > 0 else {
            lower = 0
            upper = 1
            return
        }
        let n = Double(samples), p = Double(correct) / n, z2 = z * z
        let centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        let half = z / (1 + z2 / n) * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        lower = max(0, centre - half)
        upper = min(1, centre + half)
    }
}
