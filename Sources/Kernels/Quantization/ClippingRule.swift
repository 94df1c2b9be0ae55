/// How a quantizer chooses the range it covers, before the grid is laid over it.
public enum ClippingRule: Sendable, Hashable {
    /// The full range: max |w| (symmetric) or [min, max] (affine) of the slice.
    case none
    /// The range that minimises the slice's squared quantization error ‖w − Q(w)‖², searched over
    /// `ClippingRule.mseCandidates` fractions of the full range (the OPT-m / LLM-FP4 idea of searching
    /// the clipping point on a grid, restricted to ≤ 1 because weights have no
    /// values beyond their own maximum).
    case mse
    /// The `p`-th percentile of |w| (symmetric; affine uses the `100 − p` and `p` percentiles of w),
    /// with NumPy's default linear interpolation between order statistics. `p` in (0, 100].
    case percentile(Double)

    /// Fractions of the full range tried by `.mse`: 1.00, 0.99, …, 0.20 (81 candidates). Ties keep the
    /// larger range (the first found).
    public static let mseCandidates: [Float] = (0...80).map { Float(100 - $0) / 100 }
}

/// The `p`-th percentile (0...100) of `values` with linear interpolation (NumPy's default method):
/// position `p/100 · (n − 1)` in the sorted values. `values` must not be empty.
@inlinable
public func percentile(_ values: [Float], _ p: Double) -> Float {
    let sorted = values.sorted()
    let position = p / 100 * Double(sorted.count - 1)
    let lower = Int(position.rounded(.down))
    let upper = min(lower + 1, sorted.count - 1)
    let fraction = position - Double(lower)
    return Float(Double(sorted[lower]) + fraction * (Double(sorted[upper]) - Double(sorted[lower])))
}
