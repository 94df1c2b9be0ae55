import Kernels

/// A static per-tensor activation quantizer: `intB[:asym][:clip=mse|clip=pNN.N]` (issue 5).
///
/// Symmetric by default (`sym-absmax`: scale = max|x| / (2^(B−1) − 1) over the calibration data);
/// `asym` uses min/max with an integer zero point (the range widened to contain 0); `clip` picks the
/// range by MSE or a percentile of the calibration values, as for weights (`ClippingRule`).
public struct ActivationSpec: Hashable, Sendable, CustomStringConvertible {
    public var bits: Int
    public var asymmetric: Bool
    public var clipping: ClippingRule

    public static let grammarSummary = "valid: intB (B=2..16)[:asym][:clip=mse|:clip=pNN.N]"

    public init(bits: Int, asymmetric: Bool = false, clipping: ClippingRule = .none) {
        self.bits = bits
        self.asymmetric = asymmetric
        self.clipping = clipping
    }

    public init(parsing text: String) throws {
        // The weight grammar covers this one: parse with it and keep what activations support.
        let spec: QuantizerSpec
        do {
            spec = try QuantizerSpec(parsing: text)
        } catch {
            throw QScopeError("bad activation spec '\(text)'; \(Self.grammarSummary)")
        }
        guard case .integer(let bits, let mapping, .channel, let clipping) = spec.family, mapping != .hawq else {
            throw QScopeError("bad activation spec '\(text)': activations are quantized per tensor with intB; \(Self.grammarSummary)")
        }
        self.init(bits: bits, asymmetric: mapping == .affine, clipping: clipping)
    }

    public var description: String {
        QuantizerSpec(.integer(bits: bits, mapping: asymmetric ? .affine : .symmetric, granularity: .channel,
                               clipping: clipping)).description
    }

    /// The Kernels quantizer with this spec's parameters (one row = the whole tensor).
    public var quantizer: IntegerQuantizer {
        IntegerQuantizer(bits: bits, mapping: asymmetric ? .affine : .symmetric, clipping: clipping)
    }
}
