import Executor
import Foundation

/// ONNX Runtime `TensorQuantOverrides` (peers.md §5.3) for `quantize_static`'s
/// `extra_options["TensorQuantOverrides"]`: an object keyed by ONNX tensor name whose value is a list
/// of dicts, one per channel for per-channel weights (the first carrying `axis`), one for per-tensor
/// tensors, each with `quant_type` (a `QuantType` name: QInt4, QUInt4, QInt8, QUInt8, QInt16, QUInt16,
/// QFLOAT8E4M3FN), `scale` and `zero_point` (ORT refuses `symmetric`, `reduce_range`, `rmin` and
/// `rmax` next to an explicit scale and zero point; symmetric grids show as zero point 0).
///
/// Weights use the ONNX export's containers (2–4-bit codes in 4-bit types); activations 8-bit (or
/// 16-bit) types, whose saturation range is wider than a narrower plan width's (the ONNX export adds
/// a Clip for that; the overrides cannot). FP8 E5M2, group scales and baked grids have no
/// `QuantType` and are left out, named in the notes.
public enum ORTOverrides {
    public static func export(_ input: ExportInput) throws -> (bytes: [UInt8], notes: [String]) {
        var root: [String: Any] = [:]
        var skipped: [String] = []
        for (i, encoding) in input.weights.enumerated() {
            guard let encoding else { continue }
            let dicts: [[String: Any]]
            switch encoding.storage {
            case .integer(let type, _, let scales, let zeros):
                dicts = scales.indices.map { c in
                    ["quant_type": quantType(type), "scale": Double(scales[c]), "zero_point": Int(zeros?[c] ?? 0)]
                }
            case .float8(let type, _, let scales) where type == .float8e4m3fn:
                dicts = scales.map { ["quant_type": "QFLOAT8E4M3FN", "scale": Double($0), "zero_point": 0] }
            default:
                skipped.append(input.model.layers[i].name)
                continue
            }
            var list = dicts
            if let axis = encoding.axis { list[0]["axis"] = axis }
            root[input.weightName(i)] = list
        }
        for entry in input.activations {
            let spec = entry.spec
            let type: DataType = spec.asymmetric ? (spec.bits <= 8 ? .uint8 : .uint16) : (spec.bits <= 8 ? .int8 : .int16)
            for layer in entry.layers {
                root[input.inputName(layer)] = [["quant_type": quantType(type), "scale": Double(entry.calibrated.scale),
                                                 "zero_point": Int(entry.calibrated.zeroPoint)]]
            }
        }
        var notes: [String] = []
        if !skipped.isEmpty { notes.append("not in the ORT overrides (no QuantType for the grid): " + skipped.joined(separator: ", ")) }
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return ([UInt8](data) + [10], notes)
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
