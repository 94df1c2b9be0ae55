import Analysis
import Executor

/// The Compare view of the selected layer: every quantizer family at the layer's bit-width, the
/// other layers FP32 (the rows of `qscope compare --layer`), filled in row by row by the
/// `LayerCompareEngine`.
public struct CompareState: Equatable, Sendable {
    /// The layer compared (the selection when the comparison was started).
    public var layer: Int
    /// The bit-width compared: the layer's current code width (FP32 layers: `CompareState.floatBits`).
    public var bits: Int
    /// The request; events of other generations are stale.
    public var generation: UInt64
    /// Spec strings of the rows, in order (known before any row is computed).
    public var quantizers: [String]
    /// Results so far, one slot per quantizer (nil: not computed yet).
    public var rows: [QuantizerComparison.Row?]
    /// The highlighted row (what Enter applies).
    public var cursor = 0
    /// True when every row is in.
    public var finished = false
    /// Why the comparison stopped, if it failed.
    public var error: String?

    /// The width compared for an FP32 layer (the widest family list: FP8 and every other family).
    public static let floatBits = 8

    public init(layer: Int, bits: Int, generation: UInt64, quantizers: [String]) {
        self.layer = layer
        self.bits = bits
        self.generation = generation
        self.quantizers = quantizers
        self.rows = Array(repeating: nil, count: quantizers.count)
    }

    /// Rows computed.
    public var done: Int { rows.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// The bit-width to compare a layer with this choice at: its code width (2...16), or
    /// `floatBits` for FP32.
    public static func bits(for choice: LayerChoice) -> Int {
        guard let spec = choice.weights else { return floatBits }
        return min(max(spec.bits, 2), 16)
    }
}
