import Executor
/// An array read from a `.npy` file (or an `.npz` entry), kept as bytes in one canonical layout:
/// little-endian elements in C (row-major) order, whatever the file's byte order and `fortran_order`.
///
/// Values are converted on request: `floats()` for inputs, `integers()` for labels.
public struct NPYArray: Sendable, Equatable {
    /// The element types qscope reads. Complex, string, datetime, object and structured arrays are not
    /// among them and are rejected when the file is read.
    public enum DType: String, Sendable, CaseIterable {
        /// `b1`: one byte, 0 is false, anything else true.
        case bool = "b1"
        /// Signed two's-complement integers `i1`, `i2`, `i4`, `i8`.
        case int8 = "i1", int16 = "i2", int32 = "i4", int64 = "i8"
        /// Unsigned integers `u1`, `u2`, `u4`, `u8`.
        case uint8 = "u1", uint16 = "u2", uint32 = "u4", uint64 = "u8"
        /// IEEE 754 binary16, binary32, binary64: `f2`, `f4`, `f8`.
        case float16 = "f2", float32 = "f4", float64 = "f8"

        /// Bytes per element: 1, 2, 4 or 8.
        public var itemSize: Int {
            switch self {
            case .bool, .int8, .uint8: return 1
            case .int16, .uint16, .float16: return 2
            case .int32, .uint32, .float32: return 4
            case .int64, .uint64, .float64: return 8
            }
        }

        /// The ONNX element type of the same name (`i8` is int64, `b1` bool, `f2` float16).
        public var dataType: DataType {
            switch self {
            case .bool: return .bool
            case .int8: return .int8
            case .int16: return .int16
            case .int32: return .int32
            case .int64: return .int64
            case .uint8: return .uint8
            case .uint16: return .uint16
            case .uint32: return .uint32
            case .uint64: return .uint64
            case .float16: return .float16
            case .float32: return .float32
            case .float64: return .float64
            }
        }

        /// True for the IEEE floating-point types `f2`, `f4`, `f8`.
        public var isFloatingPoint: Bool { self == .float16 || self == .float32 || self == .float64 }
    }

    /// The file the array came from, as the user named it (for an `.npz` entry: the archive); errors name it.
    public var file: String
    /// The `descr` exactly as the header wrote it, e.g. `"<f4"`, `">i2"`, `"|u1"`.
    public var descr: String
    /// The element type (byte order already normalised away).
    public var dtype: DType
    /// Dimensions: `[]` for a 0-d (scalar) array, which holds one element; a 0 anywhere means no elements.
    public var shape: [Int]
    /// The header's `fortran_order`. Informational only: `bytes` has already been transposed to C order.
    public var fortranOrder: Bool
    /// `shape.product * dtype.itemSize` bytes: little-endian elements in C order.
    public var bytes: [UInt8]

    /// Number of elements: the product of `shape` (1 for a 0-d array).
    public var count: Int { dtype.itemSize > 0 ? bytes.count / dtype.itemSize : 0 }

    /// Wraps bytes already in the canonical layout (little-endian, C order).
    /// - Throws: `QScopeError(file: file, ...)` when a dimension is negative or `bytes.count` is not
    ///   `shape.product * dtype.itemSize`.
    public init(file: String, descr: String, dtype: DType, shape: [Int], fortranOrder: Bool, bytes: [UInt8]) throws {
        let elements = try NPY.elementCount(shape, file: file)
        let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow, expected == bytes.count else {
            throw QScopeError(file: file, "shape \(NPY.describe(shape)) of \(dtype.rawValue) needs \(overflow ? "too many" : String(expected)) bytes, not \(bytes.count)")
        }
        self.file = file
        self.descr = descr
        self.dtype = dtype
        self.shape = shape
        self.fortranOrder = fortranOrder
        self.bytes = bytes
    }

    /// Every element as a `Float`, in C order; `count` values.
    ///
    /// Exact for `f2`, `f4`, 8/16-bit integers and `b1` (0 or 1); `f8`, 32/64-bit integers round to the
    /// nearest `Float` (a too-large `f8` becomes ±infinity). No scaling: `u1` pixels stay 0...255.
    public func floats() -> [Float] {
        bytes.withUnsafeBytes { raw in
            let n = count
            switch dtype {
            case .bool: return Self.convert(raw, n, UInt8.self) { $0 == 0 ? 0 : 1 }
            case .int8: return Self.convert(raw, n, UInt8.self) { Float(Int8(bitPattern: $0)) }
            case .uint8: return Self.convert(raw, n, UInt8.self) { Float($0) }
            case .int16: return Self.convert(raw, n, UInt16.self) { Float(Int16(bitPattern: $0)) }
            case .uint16: return Self.convert(raw, n, UInt16.self) { Float($0) }
            case .int32: return Self.convert(raw, n, UInt32.self) { Float(Int32(bitPattern: $0)) }
            case .uint32: return Self.convert(raw, n, UInt32.self) { Float($0) }
            case .int64: return Self.convert(raw, n, UInt64.self) { Float(Int64(bitPattern: $0)) }
            case .uint64: return Self.convert(raw, n, UInt64.self) { Float($0) }
            case .float16: return Self.convert(raw, n, UInt16.self) { Self.halfToFloat($0) }
            case .float32: return Self.convert(raw, n, UInt32.self) { Float(bitPattern: $0) }
            case .float64: return Self.convert(raw, n, UInt64.self) { Float(Double(bitPattern: $0)) }
            }
        }
    }

    /// Every element as an `Int` (for labels), in C order; `count` values.
    ///
    /// Integer types convert exactly, `b1` gives 0/1, floats are accepted when every value is integral.
    /// - Throws: `QScopeError(file: file, ...)` naming the first offending element (0-based, C order)
    ///   when a float is fractional, infinite or NaN, or a value does not fit a 64-bit `Int`.
    public func integers() throws -> [Int] {
        try bytes.withUnsafeBytes { raw -> [Int] in
            let n = count
            switch dtype {
            case .bool: return Self.convert(raw, n, UInt8.self) { $0 == 0 ? 0 : 1 }
            case .int8: return Self.convert(raw, n, UInt8.self) { Int(Int8(bitPattern: $0)) }
            case .uint8: return Self.convert(raw, n, UInt8.self) { Int($0) }
            case .int16: return Self.convert(raw, n, UInt16.self) { Int(Int16(bitPattern: $0)) }
            case .uint16: return Self.convert(raw, n, UInt16.self) { Int($0) }
            case .int32: return Self.convert(raw, n, UInt32.self) { Int(Int32(bitPattern: $0)) }
            case .uint32: return Self.convert(raw, n, UInt32.self) { Int($0) }
            case .int64: return Self.convert(raw, n, UInt64.self) { Int(Int64(bitPattern: $0)) }
            case .uint64:
                let wide = Self.convert(raw, n, UInt64.self) { $0 }
                return try wide.enumerated().map { index, value in
                    guard let exact = Int(exactly: value) else {
                        throw QScopeError(file: file, "element \(index) is \(value), which does not fit a 64-bit integer")
                    }
                    return exact
                }
            case .float16, .float32, .float64:
                let values: [Double]
                switch dtype {
                case .float16: values = Self.convert(raw, n, UInt16.self) { Double(Self.halfToFloat($0)) }
                case .float32: values = Self.convert(raw, n, UInt32.self) { Double(Float(bitPattern: $0)) }
                default: values = Self.convert(raw, n, UInt64.self) { Double(bitPattern: $0) }
                }
                return try values.enumerated().map { index, value in
                    // Int(exactly:) is nil for fractions, NaN, infinities and out-of-range values alike.
                    guard let exact = Int(exactly: value) else {
                        throw QScopeError(file: file, "element \(index) is \(value), not an integer")
                    }
                    return exact
                }
            }
        }
    }

    /// Loads `n` little-endian `T`s from `raw` and maps each; the tight loop the optimiser vectorises.
    @inline(__always)
    private static func convert<T: FixedWidthInteger, R>(
        _ raw: UnsafeRawBufferPointer, _ n: Int, _: T.Type, _ transform: (T) -> R
    ) -> [R] {
        let size = MemoryLayout<T>.size
        // In bounds by construction: n == bytes.count / itemSize.
        return [R](unsafeUninitializedCapacity: n) { buffer, initialized in
            for i in 0..<n {
                buffer[i] = transform(T(littleEndian: raw.loadUnaligned(fromByteOffset: i * size, as: T.self)))
            }
            initialized = n
        }
    }

    /// IEEE 754 binary16 bits to `Float`, including subnormals, infinities and NaN.
    /// (Swift's `Float16` is unavailable on macOS x86-64, so the conversion is spelled out.)
    static func halfToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)
        if exponent == 0x1F {  // infinity or NaN: keep the payload
            return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
        }
        if exponent == 0 {  // zero or subnormal: mantissa * 2^-24, exact in Float
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }
}
