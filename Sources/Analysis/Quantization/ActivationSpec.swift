import Executor
import Kernels

/// A static per-tensor activation quantizer:
/// `intB[:asym][:clip=mse|clip=pNN.N][:smooth=α[:bias]]`.
///
/// Symmetric by default (`sym-absmax`: scale = max|x| / (2^(B−1) − 1) over the calibration data);
/// `asym` uses min/max with an integer zero point (the range widened to contain 0); `clip` picks the
/// range by MSE or a percentile of the calibration values, as for weights (`ClippingRule`).
///
/// `smooth=α` (α in [0, 1]) applies SmoothQuant at every Gemm/MatMul layer with a
/// constant 2-D weight before the activation is quantized; `:bias` (only after `smooth=α`) selects
/// the SQ-b variant (from MPTQ-ViT) that also centres each input channel and folds the shift into
/// the layer's bias. See `SmoothQuant`.
public struct ActivationSpec: Hashable, Sendable, CustomStringConvertible {
    public var bits: Int
    public var asymmetric: Bool
    public var clipping: ClippingRule
    /// SmoothQuant / SQ-b at Gemm and MatMul inputs; nil: none.
    public var smoothing: Smoothing?

    /// `smooth=α[:bias]`.
    public struct Smoothing: Hashable, Sendable, CustomStringConvertible {
        /// Migration strength α in [0, 1]: s_j = a_j^α / w_j^(1−α).
        public var alpha: Float
        /// SQ-b: centre each channel on (max+min)/2 and smooth its half-range; fold the shift into the bias.
        public var bias: Bool

        public init(alpha: Float, bias: Bool = false) {
            self.alpha = alpha
            self.bias = bias
        }

        public var description: String {
            var a = "\(alpha)"
            if a.hasSuffix(".0") { a.removeLast(2) }
            return "smooth=\(a)" + (bias ? ":bias" : "")
        }
    }

    public static let grammarSummary =
        "valid: intB (B=2..16)[:asym][:clip=mse|:clip=pNN.N][:smooth=α (0..1)[:bias]]"

    public init(bits: Int, asymmetric: Bool = false, clipping: ClippingRule = .none, smoothing: Smoothing? = nil) {
        self.bits = bits
        self.asymmetric = asymmetric
        self.clipping = clipping
        self.smoothing = smoothing
    }

    public init(parsing text: String) throws {
        // Take the smoothing options out; the weight grammar covers the rest: parse with it and keep
        // what activations support.
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var smoothing: Smoothing?
        if let index = parts.firstIndex(where: { $0.hasPrefix("smooth=") }) {
            let value = parts[index].dropFirst("smooth=".count)
            guard let alpha = Double(value), alpha.isFinite, (0...1).contains(alpha) else {
                throw QScopeError("bad activation spec '\(text)': smooth=α needs α in [0, 1], got '\(value)'; \(Self.grammarSummary)")
            }
            parts.remove(at: index)
            var bias = false
            if index < parts.count, parts[index] == "bias" {
                bias = true
                parts.remove(at: index)
            }
            smoothing = Smoothing(alpha: Float(alpha), bias: bias)
        }
        if parts.contains("bias") {
            throw QScopeError("bad activation spec '\(text)': 'bias' (SQ-b) goes right after smooth=α; \(Self.grammarSummary)")
        }
        if parts.contains(where: { $0.hasPrefix("smooth") }) {
            throw QScopeError("bad activation spec '\(text)': one smooth=α at most; \(Self.grammarSummary)")
        }
        let rest = parts.joined(separator: ":")
        let spec: QuantizerSpec
        do {
            spec = try QuantizerSpec(parsing: rest)
        } catch {
            throw QScopeError("bad activation spec '\(text)'; \(Self.grammarSummary)")
        }
        guard case .integer(let bits, let mapping, .channel, let clipping) = spec.family, mapping != .hawq else {
            throw QScopeError("bad activation spec '\(text)': activations are quantized per tensor with intB; \(Self.grammarSummary)")
        }
        self.init(bits: bits, asymmetric: mapping == .affine, clipping: clipping, smoothing: smoothing)
    }

    public var description: String {
        QuantizerSpec(.integer(bits: bits, mapping: asymmetric ? .affine : .symmetric, granularity: .channel,
                               clipping: clipping)).description + (smoothing.map { ":\($0)" } ?? "")
    }

    /// The Kernels quantizer with this spec's parameters (one row = the whole tensor).
    public var quantizer: IntegerQuantizer {
        IntegerQuantizer(bits: bits, mapping: asymmetric ? .affine : .symmetric, clipping: clipping)
    }
}
