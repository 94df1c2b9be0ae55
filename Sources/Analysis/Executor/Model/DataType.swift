/// Element types of ONNX tensors, with ONNX's `TensorProto.DataType` codes as raw values.
///
/// qscope computes in float32. Every value that flows at run time is stored as `Float`; a value whose
/// declared type is an integer or bool is stored as `Float` too (exact for integers up to 2^24 in
/// magnitude, which covers indices, masks and shape arithmetic). Constants keep their exact integer
/// values alongside (`Tensor.integers`), so shape parameters such as `INT64_MAX` slice ends stay exact.
public enum DataType: Int, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 1
    case uint8 = 2
    case int8 = 3
    case uint16 = 4
    case int16 = 5
    case int32 = 6
    case int64 = 7
    case string = 8
    case bool = 9
    case float16 = 10
    case float64 = 11
    case uint32 = 12
    case uint64 = 13
    case bfloat16 = 16
    /// OCP FP8 E4M3 (no infinities, one NaN code, max 448): weights behind DequantizeLinear (opset 19+).
    case float8e4m3fn = 17
    /// OCP FP8 E5M2 (IEEE-like, max 57344).
    case float8e5m2 = 19
    /// 4-bit integers, two per byte (low nibble first) in `raw_data` (opset 21+).
    case uint4 = 21
    case int4 = 22

    /// True for the types whose values are stored exactly as integers in constants.
    public var isInteger: Bool {
        switch self {
        case .uint8, .int8, .uint16, .int16, .int32, .int64, .uint32, .uint64, .bool, .uint4, .int4: return true
        default: return false
        }
    }

    /// True for the floating-point types (all computed as float32).
    public var isFloat: Bool {
        self == .float32 || self == .float16 || self == .float64 || self == .bfloat16 || self == .float8e4m3fn
            || self == .float8e5m2
    }

    public var description: String {
        switch self {
        case .float32: return "float32"
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .string: return "string"
        case .bool: return "bool"
        case .float16: return "float16"
        case .float64: return "float64"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .bfloat16: return "bfloat16"
        case .float8e4m3fn: return "float8e4m3fn"
        case .float8e5m2: return "float8e5m2"
        case .uint4: return "uint4"
        case .int4: return "int4"
        }
    }

    /// Converts a value to this type the way ONNX `Cast` does: float -> integer truncates toward zero
    /// (as ONNX Runtime does) and wraps into the type's range; anything -> bool is `value != 0`.
    public func castValue(_ value: Double) -> Double {
        guard value.isFinite else { return isInteger ? 0 : value }
        switch self {
        case .bool: return value != 0 ? 1 : 0
        case .int8: return Double(Int8(truncatingIfNeeded: Int64(value.rounded(.towardZero))))
        case .uint8: return Double(UInt8(truncatingIfNeeded: Int64(value.rounded(.towardZero))))
        case .int16: return Double(Int16(truncatingIfNeeded: Int64(value.rounded(.towardZero))))
        case .uint16: return Double(UInt16(truncatingIfNeeded: Int64(value.rounded(.towardZero))))
        case .int32: return Double(Int32(truncatingIfNeeded: Int64(value.rounded(.towardZero))))
        case .uint32: return Double(UInt32(truncatingIfNeeded: Int64(value.rounded(.towardZero))))
        case .int64, .uint64:
            let t = value.rounded(.towardZero)
            return Swift.min(Swift.max(t, -9.223372036854775e18), 9.223372036854775e18)
        case .int4: return Double((Int64(value.rounded(.towardZero)) & 0xF) ^ 0x8) - 8
        case .uint4: return Double(Int64(value.rounded(.towardZero)) & 0xF)
        case .float16: return Double(Float(value))  // computed in float32
        default: return value
        }
    }
}
