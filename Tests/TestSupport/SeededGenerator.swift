import Foundation
import Kernels

/// The tests' seeded generator (SplitMix64 from Kernels): every random test input is reproducible
/// from its seed.
public typealias SeededGenerator = SplitMix64

extension SplitMix64 {
    /// Uniform in (0, 1), from the top 53 bits.
    public mutating func uniform() -> Double { nextOpenUnitInterval() }

    /// Standard normal (Box–Muller, one value per two uniforms).
    public mutating func normal() -> Double { (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
}
