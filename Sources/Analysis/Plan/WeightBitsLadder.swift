import Executor
import Kernels

/// The bit-widths `+`/`-` step through, within the quantizer family of the layer's current spec.
///
/// A step changes the code width and keeps everything else the user chose: `int2:clip=mse` goes up
/// to `int3:clip=mse`, `lut4:sparse=0.5` down to `lut3:sparse=0.5`, `split3:int2` up to
/// `split3:int3`, `fp8:e4m3:block=32` down to `fp6:e3m2:block=32`. Each family has its own rungs
/// (the widths its grammar accepts, from the common ladder 2, 3, 4, 5, 6, 8, 16):
///
/// | family | rungs |
/// |---|---|
/// | `intB` | 2 3 4 5 6 8 16 |
/// | `fpB` | fp4:e2m1, fp6:e3m2, fp8:e4m3 (a step lands on the width's default format) |
/// | `powB`, `lutB` | 2 3 4 5 6 8 |
/// | `potB` | 2 3 4 5 6 |
/// | `split3:SPEC` | those of SPEC |
///
/// Above a family's widest rung comes float (FP32); float steps down to `int16`, the top of the
/// default integer ladder; the narrowest rung stays where it is.
public enum WeightBitsLadder {
    /// The integer widths of the default ladder, ascending; float comes after the last.
    public static let widths = [2, 3, 4, 5, 6, 8, 16]

    /// The next wider setting of the same family; nil (float) above its widest rung and for float.
    public static func up(_ spec: QuantizerSpec?) -> QuantizerSpec? {
        guard let spec else { return nil }
        return step(spec, wider: true)
    }

    /// The next narrower setting of the same family: float -> int16; the narrowest rung stays.
    public static func down(_ spec: QuantizerSpec?) -> QuantizerSpec? {
        guard let spec else { return .int(widths.last!) }
        return step(spec, wider: false) ?? spec
    }

    /// Short label for tables: "int4", "float", "int8 (stored)".
    public static func label(_ spec: QuantizerSpec?) -> String {
        guard let spec else { return "float" }
        if case .stored(let bits, let signed, _) = spec.family {
            return QuantizerSpec.storedTypeName(bits: bits, signed: signed) + " (stored)"
        }
        return spec.description
    }

    /// The neighbouring rung of `spec`'s family, or nil when there is none in that direction.
    private static func step(_ spec: QuantizerSpec, wider: Bool) -> QuantizerSpec? {
        switch spec.family {
        case .integer(let bits, let mapping, let granularity, let clipping):
            return neighbour(of: bits, in: widths, wider: wider).map {
                QuantizerSpec(.integer(bits: $0, mapping: mapping, granularity: granularity, clipping: clipping))
            }
        case .float(let format, let granularity, let clipping):
            return neighbour(of: format, wider: wider).map {
                QuantizerSpec(.float($0, granularity: granularity, clipping: clipping))
            }
        case .power(let bits, let exponent, let granularity):
            return neighbour(of: bits, in: widths.filter { $0 <= 8 }, wider: wider).map {
                QuantizerSpec(.power(bits: $0, exponent: exponent, granularity: granularity))
            }
        case .powerOfTwo(let bits, let granularity):
            return neighbour(of: bits, in: widths.filter { $0 <= 6 }, wider: wider).map {
                QuantizerSpec(.powerOfTwo(bits: $0, granularity: granularity))
            }
        case .lookupTable(let bits, let sparsePercent):
            return neighbour(of: bits, in: widths.filter { $0 <= 8 }, wider: wider).map {
                QuantizerSpec(.lookupTable(bits: $0, sparsePercent: sparsePercent))
            }
        case .split(let inner):
            return step(inner, wider: wider).map { QuantizerSpec(.split($0)) }
        case .stored(let bits, _, _):
            // The file's own codes have one width; a step leaves them for the default integer ladder.
            return neighbour(of: bits, in: widths, wider: wider).map { .int($0) }
        }
    }

    /// The next rung above or below `bits` (which need not be a rung itself: `int7` steps to 8 or 6).
    private static func neighbour(of bits: Int, in rungs: [Int], wider: Bool) -> Int? {
        wider ? rungs.first { $0 > bits } : rungs.last { $0 < bits }
    }

    /// The FP rungs: fp4, fp6, fp8, each at its default format (e2m1, e3m2, e4m3: the formats a bare
    /// `fp4`, `fp6`, `fp8` parse to).
    private static func neighbour(of format: FloatFormat, wider: Bool) -> FloatFormat? {
        let rungs: [FloatFormat] = [.e2m1, .e3m2, .e4m3]
        return neighbour(of: format.bits, in: rungs.map(\.bits), wider: wider).flatMap { bits in
            rungs.first { $0.bits == bits }
        }
    }
}
