import Executor
/// The bit-widths `+`/`-` step through: 2, 3, 4, 5, 6, 8, 16, then float (FP32).
///
/// Steps keep the quantizer family of the current spec only for the default integer quantizer;
/// any other spec steps to the default `intB` of the neighbouring width, because other families do
/// not exist at every width. Float steps down to int16.
public enum WeightBitsLadder {
    /// The integer widths of the ladder, ascending; float comes after the last.
    public static let widths = [2, 3, 4, 5, 6, 8, 16]

    /// The next wider setting: nil (float) stays float.
    public static func up(_ spec: QuantizerSpec?) -> QuantizerSpec? {
        guard let spec else { return nil }
        guard let next = widths.first(where: { $0 > spec.bits }) else { return nil }
        return .int(next)
    }

    /// The next narrower setting: float -> int16; int2 stays int2.
    public static func down(_ spec: QuantizerSpec?) -> QuantizerSpec? {
        guard let spec else { return .int(widths.last!) }
        guard let next = widths.last(where: { $0 < spec.bits }) else { return spec }
        return .int(next)
    }

    /// Short label for tables: "int4", "float", "int8 (stored)".
    public static func label(_ spec: QuantizerSpec?) -> String {
        guard let spec else { return "float" }
        if case .stored(let bits, let signed, _) = spec.family {
            return QuantizerSpec.storedTypeName(bits: bits, signed: signed) + " (stored)"
        }
        return spec.description
    }
}
