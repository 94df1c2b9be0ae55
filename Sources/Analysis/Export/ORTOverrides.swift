import Executor

/// ONNX Runtime `TensorQuantOverrides` (`onnxruntime.quantization`) for `quantize_static`'s
/// `extra_options["TensorQuantOverrides"]`: an object keyed by ONNX tensor name whose value is a list
/// of dicts, one per channel for per-channel weights (the first carrying `axis`), one for per-tensor
/// tensors, each with `quant_type` (a `QuantType` name: QInt4, QUInt4, QInt8, QUInt8, QInt16, QUInt16,
/// QFLOAT8E4M3FN), `scale` and `zero_point` (ORT refuses `symmetric`, `reduce_range`, `rmin` and
/// `rmax` next to an explicit scale and zero point; symmetric grids show as zero point 0).
///
/// Weights use the ONNX export's containers (2–4-bit codes in 4-bit types); activations 8-bit (or
/// 16-bit) types, whose saturation range is wider than a narrower plan width's (the ONNX export adds
/// a Clip for that; the overrides cannot). FP8 E5M2, group scales and baked grids have no
/// `QuantType` and are left out, each named in the returned notes
/// (`Exporter` reports them as warnings).
public enum ORTOverrides {
    public static func export(_ input: ExportInput) throws -> (bytes: [UInt8], notes: [String]) {
        var overrides: [String: [TensorOverride]] = [:]
        var skipped: [String] = []
        for (i, encoding) in input.weights.enumerated() {
            guard let encoding else { continue }
            var channels: [TensorOverride]
            switch encoding.storage {
            case .integer(let type, _, let scales, let zeros):
                channels = scales.indices.map { c in
                    TensorOverride(quantType: quantType(type), scale: Double(scales[c]), zeroPoint: Int(zeros?[c] ?? 0))
                }
            case .float8(let type, _, let scales) where type == .float8e4m3fn:
                channels = scales.map { TensorOverride(quantType: "QFLOAT8E4M3FN", scale: Double($0), zeroPoint: 0) }
            default:
                skipped.append(input.model.layers[i].name)
                continue
            }
            if let axis = encoding.axis { channels[0].axis = axis }
            overrides[input.weightName(i)] = channels
        }
        // An activation that is also a listed tensor (or read by several layers) keeps the last entry.
        for entry in input.activations {
            let spec = entry.spec
            let type: DataType = spec.asymmetric ? (spec.bits <= 8 ? .uint8 : .uint16) : (spec.bits <= 8 ? .int8 : .int16)
            for layer in entry.layers {
                overrides[input.inputName(layer)] = [TensorOverride(quantType: quantType(type), scale: Double(entry.calibrated.scale),
                                                                    zeroPoint: Int(entry.calibrated.zeroPoint))]
            }
        }
        var notes: [String] = []
        if !skipped.isEmpty { notes.append("not in the ORT overrides (no QuantType for the grid): " + skipped.joined(separator: ", ")) }
        return (try ExportJSON.encode(overrides), notes)
    }

    /// One dict of a tensor's override list: the grid of one channel (or of the whole tensor).
    struct TensorOverride: Encodable {
        var quantType: String
        var scale: Double
        var zeroPoint: Int
        /// The channel axis, on the first dict of a per-channel list only; omitted otherwise.
        var axis: Int?

        enum CodingKeys: String, CodingKey {
            case scale, axis
            case quantType = "quant_type", zeroPoint = "zero_point"
        }
    }

    static func quantType(_ type: DataType) -> String {
        switch type {
        case .int4: return "QInt4"
        case .uint4: return "QUInt4"
        case .int8: return "QInt8"
        case .int16: return "QInt16"
        case .uint16: return "QUInt16"
        default: return "QUInt8"
        }
    }
}
