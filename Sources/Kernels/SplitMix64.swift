/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014): a
/// 64-bit seeded generator whose stream is fully determined by its seed.
///
/// Every random draw in qscope that must be reproducible goes through it: Hutchinson's Rademacher
/// probes, the power iteration's start vectors, and the tests' random inputs. It is not
/// cryptographic; any seed, including 0, is valid.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    /// The generator's whole state: the seed advanced by the golden-ratio increment per draw.
    public var state: UInt64

    @inlinable
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1), from the top 53 bits: never 0, so `log` of it is finite.
    @inlinable
    public mutating func nextOpenUnitInterval() -> Double {
        (Double(next() >> 11) + 0.5) / Double(1 << 53)
    }
}
