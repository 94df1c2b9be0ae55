import Foundation

/// Decodes ONNX `TensorProto`s: raw little-endian `raw_data`, the typed fields, or external data.
///
/// The quantized storage types: `int4` / `uint4` are packed two per byte, first element in the low
/// nibble, `ceil(n/2)` bytes (in `raw_data`, or the packed bytes one per `int32_data` entry);
/// `float8e4m3fn` / `float8e5m2` are one byte per element (in `int32_data`, one per entry) and decode
/// to their exact values (`Float8Bits`).
package enum TensorDecoder {
    /// Decodes `proto`, looking up external data relative to `baseDirectory` (its data files are
    /// mapped for this one tensor; a model load shares them through `decode(_:externalFiles:)`).
    package static func decode(_ proto: Onnx_TensorProto, baseDirectory: String) throws -> Tensor {
        try decode(proto, externalFiles: ExternalDataFiles(baseDirectory: baseDirectory))
    }

    /// Decodes `proto`. Float32 external data at a 4-byte aligned offset stays in the mapped file
    /// (`TensorStorage(mapping:...)`); everything else is converted into owned arrays.
    package static func decode(_ proto: Onnx_TensorProto, externalFiles: ExternalDataFiles) throws -> Tensor {
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

        if proto.dataLocation == .external {
            let region = try externalFiles.region(of: proto, name: name, shape: shape, dataType: dataType,
                                                  neededBytes: byteCount(dataType, count: count))
            // Mapped in place only when the bytes can be read as Floats as they are: little-endian
            // data on a little-endian host, at an offset that is a multiple of 4 (the mapping starts
            // on a page boundary, so the file offset is the pointer's alignment). An unaligned
            // offset (allowed by ONNX, rare: exporters align to 4 KiB or 64 bytes) is copied instead,
            // since reading a misaligned Float through a typed pointer is undefined behaviour.
            if dataType == .float32, region.offset % MemoryLayout<Float>.alignment == 0, Self.hostIsLittleEndian {
                return Tensor(shape: shape, values: TensorStorage(mapping: region.file, byteOffset: region.offset, count: count))
            }
            return try fromRaw(region.bytes, dataType: dataType, shape: shape, count: count, name: name)
        }
        if proto.hasRawData {
            return try proto.rawData.withUnsafeBytes { try fromRaw($0, dataType: dataType, shape: shape, count: count, name: name) }
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

    private static let hostIsLittleEndian = 1.littleEndian == 1

    /// Bytes of `count` elements of `dataType` as stored in `raw_data` or an external file (4-bit
    /// types two per byte, rounded up).
    static func byteCount(_ dataType: DataType, count: Int) -> Int {
        switch dataType {
        case .int4, .uint4: return (count + 1) / 2
        case .float32, .int32, .uint32: return count * 4
        case .float64, .int64, .uint64: return count * 8
        case .float16, .bfloat16, .int16, .uint16: return count * 2
        default: return count
        }
    }

    /// Decodes little-endian element bytes (`raw_data` or an external file's region) into an owned tensor.
    private static func fromRaw(_ bytes: UnsafeRawBufferPointer, dataType: DataType, shape: [Int], count: Int, name: String) throws -> Tensor {
        let needed = byteCount(dataType, count: count)
        guard bytes.count == needed else {
            let packing = dataType == .int4 || dataType == .uint4 ? " (4-bit, two per byte)" : ""
            throw QScopeError("tensor '\(name)' has \(bytes.count) bytes of data but its shape needs \(needed)\(packing)")
        }
        if dataType == .int4 || dataType == .uint4 {
            return unpackNibbles([UInt8](bytes), count: count, shape: shape, dataType: dataType)
        }
        let width = count == 0 ? 1 : needed / count
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
