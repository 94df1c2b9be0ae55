import Executor

/// AIMET quantization encodings JSON (the `QuantizationSimModel` encodings file) for a plan: `param_encodings` for the quantized
/// integer weights (per channel or per tensor) and `activation_encodings` for the quantized layer
/// inputs, keyed by the ONNX tensor names of the model file.
///
/// - 1.0.0 (default): lists of `{name, dtype: "INT", enc_type, bw, is_sym, scale: [..], offset: [..]}`.
/// - 0.6.1: objects keyed by tensor name, each a list (one entry per channel) of `{bitwidth, dtype:
///   "int", is_symmetric: "True"|"False", min, max, scale, offset}` plus `quantizer_args`.
///
/// Offsets follow AIMET's convention, the negative of a zero point on the unsigned grid: symmetric
/// (signed) codes give `offset = −2^(B−1)` (qscope's codes `±(2^(B−1) − 1)` all lie on that grid),
/// affine codes `offset = −zero_point`; `min = scale·offset`, `max = scale·(2^B − 1 + offset)`.
/// `bw` is the plan's bit-width B, not the ONNX container's. Weights of a Conv whose BatchNorm the
/// loader folded are the folded weights (AIMET folds BN before simulation too). Layers whose grid
/// AIMET's integer encodings cannot hold (FP8, group scales, pow/pot/lut/split) are left out and named
/// in the returned notes (`Exporter` reports them as warnings).
public enum AIMETEncodings {
    public enum Version: String, Sendable, CaseIterable {
        case v1_0_0 = "1.0.0"
        case v0_6_1 = "0.6.1"
    }

    /// One encoding before it is written in a version's schema.
    struct Encoding {
        var name: String
        var bits: Int
        var symmetric: Bool
        var scales: [Float]
        var offsets: [Int]
        var perChannel: Bool
    }

    public static func export(_ input: ExportInput, version: Version) throws -> (bytes: [UInt8], notes: [String]) {
        var params: [Encoding] = []
        var skipped: [String] = []
        for (i, encoding) in input.weights.enumerated() {
            guard let encoding else { continue }
            guard case .integer(_, _, let scales, let zeros) = encoding.storage else {
                skipped.append(input.model.layers[i].name)
                continue
            }
            let offsets = scales.indices.map { c in encoding.symmetric ? -(1 << (encoding.bits - 1)) : -Int(zeros?[c] ?? 0) }
            params.append(Encoding(name: input.weightName(i), bits: encoding.bits, symmetric: encoding.symmetric, scales: scales,
                                   offsets: offsets, perChannel: encoding.axis != nil))
        }
        var activations: [Encoding] = []
        var seen = Set<String>()
        for entry in input.activations {
            for layer in entry.layers where seen.insert(input.inputName(layer)).inserted {
                let spec = entry.spec
                let offset = spec.asymmetric ? -Int(entry.calibrated.zeroPoint) : -(1 << (spec.bits - 1))
                activations.append(Encoding(name: input.inputName(layer), bits: spec.bits, symmetric: !spec.asymmetric,
                                            scales: [entry.calibrated.scale], offsets: [offset], perChannel: false))
            }
        }
        var notes: [String] = []
        if !skipped.isEmpty {
            notes.append("not in the AIMET encodings (no integer per-channel or per-tensor grid): " + skipped.joined(separator: ", "))
        }
        switch version {
        case .v1_0_0:
            return (try ExportJSON.encode(AIMETEncodingsFile.V1_0_0(params: params, activations: activations)), notes)
        case .v0_6_1:
            return (try ExportJSON.encode(AIMETEncodingsFile.V0_6_1(params: params, activations: activations)), notes)
        }
    }
}
