import Foundation

/// Decodes ONNX `TensorProto`s: raw little-endian `raw_data`, the typed fields, or external data.
///
/// The quantized storage types: `int4` / `uint4` are packed two per byte, first element in the low
/// nibble, `ceil(n/2)` bytes (in `raw_data`, or the packed bytes one per `int32_data` entry);
/// `float8e4m3fn` / `float8e5m2` are one byte per element (in `int32_data`, one per entry) and decode
/// to their exact values (`Float8Bits`).
package enum TensorDecoder {
    package static func decode(_ proto: Onnx_TensorProto, baseDirectory: String) throws -> Tensor {
        let name = proto.name.isEmpty ? "(unnamed)" : proto.name
        guard let dataType = DataType(rawValue: Int(proto.dataType)), dataType != .string else {
            throw QScopeError("tensor '\(name)' has unsupported element type \(proto.dataType)")
        }
        let shape = proto.dims.map { Int(clamping: $0) }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw QScopeError("tensor '\(name)' has a negative dim") }
        let (count, overflow) = shape.reduce((1, false)) { acc, dim in
            let (product, o) = acc.0.multipliedReportingOverflow(by: dim)
            return (product, acc.1 || o)
        }
        guard !overflow, count < 1 << 34 else { throw QScopeError("tensor '\(name)' is implausibly large") }

        var raw: Data? = proto.hasRawData ? proto.rawData : nil
        if proto.dataLocation == .external {
            raw = try externalData(proto, name: name, baseDirectory: baseDirectory)
        }
        if let raw {
            return try fromRaw(raw, dataType: dataType, shape: shape, count: count, name: name)
        }
        switch dataType {
        case .float32:
            try expect(proto.floatData.count, count, name)
            return Tensor(shape: shape, values: proto.floatData)
        case .float64:
            try expect(proto.doubleData.count, count, name)
            return Tensor(shape: shape, values: proto.doubleData.map { Float($0) })
        case .float16, .bfloat16:
            try expect(proto.int32Data.count, count, name)
            return Tensor(shape: shape, values: proto.int32Data.map { halfToFloat(UInt16(truncatingIfNeeded: $0), dataType) })
        case .int64:
            try expect(proto.int64Data.count, count, name)
            return Tensor(shape: shape, integers: proto.int64Data, dataType: dataType)
        case .int4, .uint4:
            try expect(proto.int32Data.count, (count + 1) / 2, name)
            return unpackNibbles(proto.int32Data.map { UInt8(truncatingIfNeeded: $0) }, count: count, shape: shape, dataType: dataType)
        case .float8e4m3fn, .float8e5m2:
            try expect(proto.int32Data.count, count, name)
            let table = Float8Bits.table(dataType)
            return Tensor(shape: shape, values: proto.int32Data.map { table[Int(UInt8(truncatingIfNeeded: $0))] }, dataType: dataType)
        case .uint32, .uint64:
            try expect(proto.uint64Data.count, count, name)
            return Tensor(shape: shape, integers: proto.uint64Data.map { Int64(truncatingIfNeeded: $0) }, dataType: dataType)
        default:
            try expect(proto.int32Data.count, count, name)
            return Tensor(shape: shape, integers: proto.int32Data.map { Int64($0) }, dataType: dataType)
        }
    }

    private static func expect(_ found: Int, _ wanted: Int, _ name: String) throws {
        guard found == wanted else {
            throw QScopeError("tensor '\(name)' holds \(found) values but its shape needs \(wanted)")
        }
    }

    private static func externalData(_ proto: Onnx_TensorProto, name: String, baseDirectory: String) throws -> Data {
        var location = ""
        var offset = 0
        var length: Int?
        for entry in proto.externalData {
            switch entry.key {
            case "location": location = entry.value
            case "offset": offset = Int(entry.value) ?? 0
            case "length": length = Int(entry.value)
            default: break
            }
        }
        guard !location.isEmpty, !location.contains("..") else {
            throw QScopeError("tensor '\(name)' has external data without a valid location")
        }
        let path = (baseDirectory as NSString).appendingPathComponent(location)
        guard let file = FileHandle(forReadingAtPath: path) else {
            throw QScopeError("tensor '\(name)': external data file '\(location)' cannot be opened")
        }
        defer { try? file.close() }
        do {
            try file.seek(toOffset: UInt64(offset))
            let data = try length.map { try file.read(upToCount: $0) ?? Data() } ?? (try file.readToEnd() ?? Data())
            return data
        } catch {
            throw QScopeError("tensor '\(name)': external data file '\(location)' cannot be read")
        }
    }

    private static func fromRaw(_ raw: Data, dataType: DataType, shape: [Int], count: Int, name: String) throws -> Tensor {
        if dataType == .int4 || dataType == .uint4 {
            guard raw.count == (count + 1) / 2 else {
                throw QScopeError("tensor '\(name)' has \(raw.count) bytes of data but its shape needs \((count + 1) / 2) (4-bit, two per byte)")
            }
            return unpackNibbles([UInt8](raw), count: count, shape: shape, dataType: dataType)
        }
        let width: Int
        switch dataType {
        case .float32, .int32, .uint32: width = 4
        case .float64, .int64, .uint64: width = 8
        case .float16, .bfloat16, .int16, .uint16: width = 2
        default: width = 1
        }
        guard raw.count == count * width else {
            throw QScopeError("tensor '\(name)' has \(raw.count) bytes of data but its shape needs \(count * width)")
        }
        return raw.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Tensor in
            func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
                (0..<count).map { T(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * width, as: T.self)) }
            }
            switch dataType {
            case .float32:
                return Tensor(shape: shape, values: load(UInt32.self).map { Float(bitPattern: $0) })
            case .float64:
                return Tensor(shape: shape, values: load(UInt64.self).map { Float(Double(bitPattern: $0)) })
            case .float16, .bfloat16:
                return Tensor(shape: shape, values: load(UInt16.self).map { halfToFloat($0, dataType) })
            case .int64: return Tensor(shape: shape, integers: load(Int64.self), dataType: dataType)
            case .uint64: return Tensor(shape: shape, integers: load(UInt64.self).map { Int64(truncatingIfNeeded: $0) }, dataType: dataType)
            case .int32: return Tensor(shape: shape, integers: load(Int32.self).map(Int64.init), dataType: dataType)
            case .uint32: return Tensor(shape: shape, integers: load(UInt32.self).map(Int64.init), dataType: dataType)
            case .int16: return Tensor(shape: shape, integers: load(Int16.self).map(Int64.init), dataType: dataType)
            case .uint16: return Tensor(shape: shape, integers: load(UInt16.self).map(Int64.init), dataType: dataType)
            case .int8: return Tensor(shape: shape, integers: load(Int8.self).map(Int64.init), dataType: dataType)
            case .bool: return Tensor(shape: shape, integers: load(UInt8.self).map { $0 != 0 ? 1 : 0 }, dataType: dataType)
            case .float8e4m3fn, .float8e5m2:
                let table = Float8Bits.table(dataType)
                return Tensor(shape: shape, values: load(UInt8.self).map { table[Int($0)] }, dataType: dataType)
            default: return Tensor(shape: shape, integers: load(UInt8.self).map(Int64.init), dataType: dataType)
            }
        }
    }

    /// `count` 4-bit values from packed bytes (element 2i in the low nibble of byte i), sign-extended
    /// for `int4`.
    static func unpackNibbles(_ bytes: [UInt8], count: Int, shape: [Int], dataType: DataType) -> Tensor {
        let integers = (0..<count).map { i -> Int64 in
            let nibble = Int64(i % 2 == 0 ? bytes[i / 2] & 0xF : bytes[i / 2] >> 4)
            return dataType == .int4 && nibble >= 8 ? nibble - 16 : nibble
        }
        return Tensor(shape: shape, integers: integers, dataType: dataType)
    }

    /// IEEE half (binary16) or bfloat16 bits to Float; exact for every value.
    static func halfToFloat(_ bits: UInt16, _ type: DataType) -> Float {
        if type == .bfloat16 { return Float(bitPattern: UInt32(bits) << 16) }
        return Float(Float16(bitPattern: bits))
    }
}
