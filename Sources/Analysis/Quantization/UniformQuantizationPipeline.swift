import Executor
import Foundation

/// One quantizer for every quantizable layer, applied the way `qscope eval --weights SPEC
/// --activations SPEC` applies it: activation fake-quant calibrated (and, with `smooth=α`, the
/// SmoothQuant rewrite), then the Fisher diagonal that weights lut's k-means, then the weights
/// quantized. The result is the model to evaluate, the weights to substitute and a summary of what
/// was applied.
///
/// Order matters: with smoothing the weights to quantize are the smoothed ones (Ŵ = W·s), so the
/// activations go first; and the Fisher diagonal is taken from the float model's gradients, which
/// are not the gradients of smoothed weights, so smoothed lut weights get plain k-means.
public struct UniformQuantizationPipeline: Sendable {
    /// The weight quantizer for every quantizable layer (nil: float weights).
    public var weights: QuantizerSpec?
    /// The per-tensor fake-quant at every quantizable layer's input (nil: float activations).
    public var activations: ActivationSpec?
    /// Activation ranges, smoothing and the Fisher diagonal are computed on the first this many
    /// samples of the data (at least 1; fewer when the data has fewer).
    public var calibrationSamples: Int
    /// lut weights: plain k-means instead of k-means weighted by the Fisher diagonal.
    public var plainLut: Bool

    public init(weights: QuantizerSpec?, activations: ActivationSpec?, calibrationSamples: Int, plainLut: Bool) {
        self.weights = weights
        self.activations = activations
        self.calibrationSamples = calibrationSamples
        self.plainLut = plainLut
    }

    /// What `run` produces.
    public struct Result: Sendable {
        /// The model to evaluate: the input model with activation fake-quant (and smoothing) inserted.
        public var model: Model
        /// The quantized weights to substitute when evaluating `model` (nil without `weights`).
        public var weights: QuantizedModelWeights?
        public var summary: UniformQuantizationSummary
    }

    /// Applies the quantizers to `model`, calibrating on the first `calibrationSamples` of `dataset`.
    ///
    /// - Throws: `QScopeError` for a model the activation specs or quantizers cannot be applied to.
    ///   A model without gradients is not an error: its lut weights get plain k-means, and the
    ///   summary says why.
    public func run(model: Model, dataset: Dataset) throws -> Result {
        var summary = UniformQuantizationSummary()
        var evaluated = model
        var smoothed = false
        if let activations {
            let calibration = dataset.prefix(calibrationSamples)
            let prepared = try ActivationQuantization.prepare(activations, to: model, calibration: calibration)
            evaluated = prepared.model
            summary.activations = activations.description
            summary.calibrationSamples = calibration.count
            summary.calibratedInputs = prepared.calibrated.count
            if let smoothing = prepared.smoothing, let options = activations.smoothing {
                smoothed = !smoothing.layers.isEmpty
                summary.smoothing = UniformQuantizationSummary.Smoothing(
                    method: options.bias ? "SQ-b" : "SmoothQuant",
                    layers: smoothing.layers.map(\.name),
                    skipped: smoothing.skipped.map { .init(layer: $0.name, reason: $0.reason) },
                    deadChannels: smoothing.layers.reduce(0) { $0 + $1.deadChannels })
            }
        }
        var quantized: QuantizedModelWeights?
        if let weights {
            let clock = ContinuousClock()
            let start = clock.now
            var fisher: FisherDiagonal?
            if weights.usesSensitivity {
                if plainLut {
                    summary.lut = .plainAsked
                } else if smoothed {
                    summary.lut = .plainForSmoothedWeights
                } else {
                    let weighting: UniformQuantizationSummary.LutWeighting
                    (fisher, weighting) = try Self.fisherWeighting(model: model, dataset: dataset, samples: calibrationSamples)
                    summary.lut = weighting
                }
            }
            let result = try QuantizedModelWeights(model: evaluated, spec: weights, fisher: fisher,
                                                   threads: ProcessInfo.processInfo.activeProcessorCount)
            let elapsed = clock.now - start
            quantized = result
            let sqnr = result.weightSQNR(model: evaluated)
            summary.weights = UniformQuantizationSummary.Weights(
                spec: weights.description, layers: result.layers.count, bitsPerWeight: result.bitsPerWeight,
                sizeMB: Double(result.totalBits) / 8 / 1_048_576, payloadMB: Double(result.payloadBits) / 8 / 1_048_576,
                sqnrDB: sqnr.isFinite ? sqnr : nil, seconds: elapsed.seconds, ofSmoothedWeights: smoothed)
        }
        return Result(model: evaluated, weights: quantized, summary: summary)
    }
}

extension UniformQuantizationPipeline {
    /// The Fisher diagonal that weights lut's k-means, on the first `samples` of `dataset`, and the
    /// weighting to report; no diagonal (plain k-means, and why) when the model has no gradients
    /// (an op without a backward pass). Other failures throw.
    public static func fisherWeighting(model: Model, dataset: Dataset, samples: Int) throws
        -> (FisherDiagonal?, UniformQuantizationSummary.LutWeighting) {
        do {
            let diagonal = try FisherDiagonal.compute(model: model, data: dataset, samples: samples)
            return (diagonal, .fisher(samples: diagonal.samples, loss: diagonal.lossKind, seconds: diagonal.seconds))
        } catch let error as QScopeError {
            return (nil, .plainWithoutGradients(error.description))
        }
    }
}

/// What `UniformQuantizationPipeline` applied: the JSON fields of `qscope eval` that describe the
/// quantizers (every one optional: absent when its quantizer was not asked for) and what the text
/// report says about them.
public struct UniformQuantizationSummary: Sendable, Equatable {
    /// The activation spec, canonical spelling (nil: float activations).
    public var activations: String?
    /// Samples the activation ranges were calibrated on.
    public var calibrationSamples: Int?
    /// Layer inputs that received fake-quant (text only).
    public var calibratedInputs: Int?
    /// SmoothQuant / SQ-b, when the activation spec asked for it.
    public var smoothing: Smoothing?
    /// How lut weights were clustered (nil: the weight quantizer is not a lut).
    public var lut: LutWeighting?
    /// The weight quantizer and what it did (nil: float weights).
    public var weights: Weights?

    public init() {}

    public struct Smoothing: Sendable, Equatable {
        /// "SmoothQuant" or "SQ-b" (text only).
        public var method: String
        /// The Gemm/MatMul layers whose input was smoothed.
        public var layers: [String]
        public var skipped: [SkippedLayer]
        /// Input channels that never varied in calibration, left unscaled.
        public var deadChannels: Int

        public init(method: String, layers: [String], skipped: [SkippedLayer], deadChannels: Int) {
            self.method = method
            self.layers = layers
            self.skipped = skipped
            self.deadChannels = deadChannels
        }
    }

    public struct SkippedLayer: Codable, Sendable, Equatable {
        public var layer: String
        public var reason: String

        public init(layer: String, reason: String) {
            self.layer = layer
            self.reason = reason
        }
    }

    /// How lut weights were clustered, and why.
    public enum LutWeighting: Sendable, Equatable {
        /// k-means weighted by the Fisher diagonal of `loss` on `samples` samples, computed in `seconds`.
        case fisher(samples: Int, loss: String, seconds: Double)
        /// Plain k-means because `--plain-lut` asked for it.
        case plainAsked
        /// Plain k-means because the weights were smoothed (W·s is not what the gradients were taken for).
        case plainForSmoothedWeights
        /// Plain k-means because the model has no gradients; the reason as the error said it.
        case plainWithoutGradients(String)
    }

    public struct Weights: Sendable, Equatable {
        /// The weight spec, canonical spelling.
        public var spec: String
        /// Quantized layers (text only).
        public var layers: Int
        /// Bits per weight, metadata (scales, zero points...) included.
        public var bitsPerWeight: Double
        /// Size with metadata and codes only, in MB of 2^20 bytes.
        public var sizeMB: Double
        public var payloadMB: Double
        /// SQNR of the quantized weights against the float ones, in dB; nil when infinite (the
        /// quantizer reproduced every weight exactly) or undefined.
        public var sqnrDB: Double?
        /// Seconds spent on the Fisher diagonal and the quantization.
        public var seconds: Double
        /// The weights quantized were the smoothed ones (text only).
        public var ofSmoothedWeights: Bool

        public init(spec: String, layers: Int, bitsPerWeight: Double, sizeMB: Double, payloadMB: Double,
                    sqnrDB: Double?, seconds: Double, ofSmoothedWeights: Bool) {
            self.spec = spec
            self.layers = layers
            self.bitsPerWeight = bitsPerWeight
            self.sizeMB = sizeMB
            self.payloadMB = payloadMB
            self.sqnrDB = sqnrDB
            self.seconds = seconds
            self.ofSmoothedWeights = ofSmoothedWeights
        }
    }
}

extension UniformQuantizationSummary: Encodable {
    /// The JSON keys of `qscope eval`, which lists these fields beside its own (flat, not nested).
    private enum CodingKeys: String, CodingKey {
        case activations, calibrationSamples = "calibration_samples", smoothedLayers = "smoothed_layers"
        case smoothingSkipped = "smoothing_skipped", smoothingDeadChannels = "smoothing_dead_channels"
        case lutWeighting = "lut_weighting", fisherSamples = "fisher_samples", fisherLoss = "fisher_loss"
        case fisherSeconds = "fisher_seconds", fisherUnavailable = "fisher_unavailable"
        case weights, weightBitsPerWeight = "weight_bits_per_weight", weightSizeMB = "weight_size_mb"
        case weightPayloadMB = "weight_payload_mb", weightSQNR = "weight_sqnr_db", quantizeSeconds = "quantize_seconds"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(activations, forKey: .activations)
        try container.encodeIfPresent(calibrationSamples, forKey: .calibrationSamples)
        if let smoothing {
            try container.encode(smoothing.layers, forKey: .smoothedLayers)
            try container.encode(smoothing.skipped, forKey: .smoothingSkipped)
            try container.encode(smoothing.deadChannels, forKey: .smoothingDeadChannels)
        }
        switch lut {
        case .fisher(let samples, let loss, let seconds):
            try container.encode("fisher", forKey: .lutWeighting)
            try container.encode(samples, forKey: .fisherSamples)
            try container.encode(loss, forKey: .fisherLoss)
            try container.encode(seconds, forKey: .fisherSeconds)
        case .plainAsked, .plainForSmoothedWeights:
            try container.encode("plain", forKey: .lutWeighting)
        case .plainWithoutGradients(let reason):
            try container.encode("plain", forKey: .lutWeighting)
            try container.encode(reason, forKey: .fisherUnavailable)
        case nil:
            break
        }
        if let weights {
            try container.encode(weights.spec, forKey: .weights)
            try container.encode(weights.bitsPerWeight, forKey: .weightBitsPerWeight)
            try container.encode(weights.sizeMB, forKey: .weightSizeMB)
            try container.encode(weights.payloadMB, forKey: .weightPayloadMB)
            try container.encodeIfPresent(weights.sqnrDB, forKey: .weightSQNR)
            try container.encode(weights.seconds, forKey: .quantizeSeconds)
        }
    }
}
