import Executor
/// How raw uint8 pixels of an IDX file become model inputs: `x = (pixel * scale - mean) / std`.
///
/// Applied to IDX data only: `.npz` and `.npy` files are expected to be in the model's input layout
/// already, so their values (uint8 included) are used as stored. The default maps 0...255 to 0...1.
public struct Preprocessing: Sendable, Equatable {
    /// Multiplies the raw pixel (0...255) first; default 1/255.
    public var scale: Float = 1 / 255
    /// Subtracted after scaling; default 0.
    public var mean: Float = 0
    /// Divides last; must be finite and non-zero; default 1.
    public var std: Float = 1

    /// `Preprocessing()` maps pixels 0...255 to 0...1; e.g. `Preprocessing(scale: 1/255, mean: 0.2860, std: 0.3530)`
    /// also normalises with Fashion-MNIST's statistics. Validity (finite, std ≠ 0) is checked when data is loaded.
    public init(scale: Float = 1 / 255, mean: Float = 0, std: Float = 1) {
        self.scale = scale
        self.mean = mean
        self.std = std
    }

    /// The 256 possible outputs, indexed by pixel value: one division per value, not per pixel.
    /// - Throws: `QScopeError(file: file, ...)` when a parameter is not finite or `std` is zero.
    func lookupTable(file: String) throws -> [Float] {
        guard scale.isFinite, mean.isFinite, std.isFinite, std != 0 else {
            throw QScopeError(file: file, "invalid preprocessing: scale \(scale), mean \(mean), std \(std) (all must be finite, std non-zero)")
        }
        return (0..<256).map { (Float($0) * scale - mean) / std }
    }
}
