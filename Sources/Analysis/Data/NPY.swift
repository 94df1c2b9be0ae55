import Executor
import Foundation

/// Reading and writing numpy's `.npy` format (versions 1.0, 2.0 and 3.0).
///
/// Layout: the magic `\x93NUMPY`, a major and minor version byte, the header length (2 bytes
/// little-endian in 1.0, 4 bytes in 2.0 and 3.0), the header (a Python dict literal padded with spaces
/// and a newline), then the raw elements.
public enum NPY {
    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    /// Parses a complete `.npy` file held in memory.
    ///
    /// Accepts `descr` little-endian (`<`), not-applicable (`|`) or big-endian (`>`, byte-swapped here)
    /// for `b1`, `i1/i2/i4/i8`, `u1/u2/u4/u8`, `f2/f4/f8`; `fortran_order: True` data is transposed to C
    /// order. 0-d arrays (shape `()`, one element) and empty arrays (a 0 in the shape) are valid.
    /// - Parameters:
    ///   - bytes: the whole file (`[UInt8]` or `Data`).
    ///   - file: the name used in errors and stored in the result.
    /// - Throws: `QScopeError(file: file, ...)` for a missing magic, an unknown version, a malformed
    ///   header, an unsupported dtype, or a data section whose length is not shape product × item size
    ///   (`"truncated: expected 24 bytes of data, found 20"`).
    public static func read(_ bytes: some ContiguousBytes, file: String) throws -> NPYArray {
        try bytes.withUnsafeBytes { try decode($0, file: file) }
    }

    /// Reads and parses the `.npy` file at `path` (errors name `path`).
    public static func read(path: String) throws -> NPYArray {
        try read(DataFileReader.readAll(path), file: path)
    }

    /// Writes a float32, C-order `.npy` file atomically (temporary file in the same directory, then
    /// rename), byte-for-byte as `numpy.save` writes the same array: version 1.0 unless the header needs
    /// more than 65535 bytes, header padded to a multiple of 64 bytes.
    /// - Parameters:
    ///   - values: `shape.product` values in row-major order.
    ///   - shape: `[]` writes a 0-d array (exactly one value); zero dimensions are allowed.
    /// - Throws: `QScopeError(file: path, ...)` when the shape has a negative dimension or does not hold
    ///   `values.count` elements, or when the file cannot be written.
    public static func writeFloat32(_ values: [Float], shape: [Int], to path: String) throws {
        try AtomicFileWriter.write(encodeFloat32(values, shape: shape, file: path), to: path)
    }

    /// The bytes `writeFloat32` writes.
    static func encodeFloat32(_ values: [Float], shape: [Int], file: String) throws -> [UInt8] {
        let elements = try elementCount(shape, file: file)
        guard elements == values.count else {
            throw QScopeError(file: file, "cannot write: shape \(describe(shape)) holds \(elements) values but \(values.count) were given")
        }
        var bytes = headerBytes(descr: "<f4", fortranOrder: false, shape: shape)
        bytes.reserveCapacity(bytes.count + 4 * values.count)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// Magic, version, length and header exactly as numpy 1.17+ writes them (`format._write_array_header`):
    /// keys sorted, `repr` values, 21 spare spaces less the digits of the growth axis, then spaces and a
    /// newline up to a multiple of 64 bytes.
    static func headerBytes(descr: String, fortranOrder: Bool, shape: [Int]) -> [UInt8] {
        let tuple = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var text = "{'descr': '\(descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(tuple), }"
        if let growthAxis = fortranOrder ? shape.last : shape.first {
            text += String(repeating: " ", count: max(0, 21 - String(growthAxis).count))
        }
        let header = Array(text.utf8)
        func padding(lengthSize: Int) -> Int { 64 - (magic.count + 2 + lengthSize + header.count + 1) % 64 }
        // Like numpy: version 1.0 when its 2-byte length field can hold the padded header, else 2.0.
        var (major, lengthSize) = (UInt8(1), 2)
        if header.count + padding(lengthSize: 2) + 1 > 0xFFFF { (major, lengthSize) = (2, 4) }
        let pad = padding(lengthSize: lengthSize)
        let headerLength = header.count + pad + 1
        var bytes = magic + [major, 0]
        for index in 0..<lengthSize { bytes.append(UInt8(truncatingIfNeeded: headerLength >> (8 * index))) }
        bytes += header
        bytes += [UInt8](repeating: UInt8(ascii: " "), count: pad)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    // MARK: - Decoding

    static func decode(_ raw: UnsafeRawBufferPointer, file: String) throws -> NPYArray {
        guard raw.count >= magic.count, raw.prefix(magic.count).elementsEqual(magic) else {
            throw QScopeError(file: file, "not a .npy file (it does not start with \\x93NUMPY)")
        }
        guard raw.count >= 8 else { throw QScopeError(file: file, "truncated: the file ends inside the .npy preamble") }
        let (major, minor) = (raw[6], raw[7])
        guard (1...3).contains(major), minor == 0 else {
            throw QScopeError(file: file, "unsupported .npy format version \(major).\(minor) (qscope reads 1.0, 2.0 and 3.0)")
        }
        let lengthSize = major == 1 ? 2 : 4
        guard raw.count >= 8 + lengthSize else {
            throw QScopeError(file: file, "truncated: the file ends inside the .npy preamble")
        }
        var headerLength = 0
        for index in 0..<lengthSize { headerLength |= Int(raw[8 + index]) << (8 * index) }
        let headerStart = 8 + lengthSize
        let dataStart = headerStart + headerLength
        guard dataStart <= raw.count else {
            throw QScopeError(file: file, "truncated: the header claims \(headerLength) bytes but only \(raw.count - headerStart) follow")
        }
        let header = try NPYHeader.parse(Array(raw[headerStart..<dataStart]), file: file)
        let (dtype, bigEndian) = try parseDescr(header.descr, file: file)

        let elements = try elementCount(header.shape, file: file)
        let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.itemSize)
        guard !overflow else { throw QScopeError(file: file, "shape \(describe(header.shape)) is too large") }
        let found = raw.count - dataStart
        if found < expected {
            throw QScopeError(file: file, "truncated: expected \(expected) bytes of data, found \(found)")
        }
        if found > expected {
            throw QScopeError(file: file, "expected \(expected) bytes of data, found \(found) (extra bytes after the array)")
        }

        let data = UnsafeRawBufferPointer(rebasing: raw[dataStart...])
        var bytes = header.fortranOrder && header.shape.count > 1
            ? fortranToC(data, shape: header.shape, itemSize: dtype.itemSize)
            : Array(data)
        if bigEndian && dtype.itemSize > 1 { swapBytes(&bytes, itemSize: dtype.itemSize) }
        return try NPYArray(file: file, descr: header.descr, dtype: dtype, shape: header.shape,
                            fortranOrder: header.fortranOrder, bytes: bytes)
    }

    /// `"<f4"` → (.float32, big-endian: false). `=` (native) counts as little-endian, as on every Swift host.
    static func parseDescr(_ descr: String, file: String) throws -> (NPYArray.DType, bigEndian: Bool) {
        var code = Substring(descr)
        var bigEndian = false
        if let first = code.first, "<>|=".contains(first) {
            bigEndian = first == ">"
            code = code.dropFirst()
        }
        guard let dtype = NPYArray.DType(rawValue: String(code)) else {
            let reason: String
            switch code.first {
            case "O": reason = "object arrays hold pickled Python objects"
            case "c": reason = "complex numbers"
            case "U", "S", "a": reason = "strings"
            case "M", "m": reason = "dates and times"
            case "V": reason = "raw or structured records"
            default: reason = "unknown type code"
            }
            throw QScopeError(file: file, "unsupported dtype '\(descr)' (\(reason)); qscope reads float, integer and bool arrays")
        }
        return (dtype, bigEndian)
    }

    /// Product of the dimensions, checked for negatives and overflow; 1 for `[]`.
    static func elementCount(_ shape: [Int], file: String) throws -> Int {
        var product = 1
        for dim in shape {
            guard dim >= 0 else { throw QScopeError(file: file, "shape \(describe(shape)) has a negative dimension") }
            let (next, overflow) = product.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw QScopeError(file: file, "shape \(describe(shape)) is too large") }
            product = next
        }
        return product
    }

    /// `[2, 3]` → `"[2, 3]"`, for messages.
    static func describe(_ shape: [Int]) -> String {
        "[" + shape.map(String.init).joined(separator: ", ") + "]"
    }

    /// Reorders column-major elements into row-major order (element size `itemSize`).
    ///
    /// Walks the C-order index with an odometer and tracks the matching Fortran byte offset
    /// incrementally, so each element costs one copy and no divisions.
    static func fortranToC(_ source: UnsafeRawBufferPointer, shape: [Int], itemSize: Int) -> [UInt8] {
        let total = source.count
        guard total > 0 else { return [] }
        let rank = shape.count
        var fortranStride = [Int](repeating: itemSize, count: rank)  // bytes between neighbours on each axis
        for axis in 1..<rank { fortranStride[axis] = fortranStride[axis - 1] * shape[axis - 1] }
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        return [UInt8](unsafeUninitializedCapacity: total) { target, initialized in
            var written = 0
            while written < total {
                for byte in 0..<itemSize { target[written + byte] = source[offset + byte] }
                written += itemSize
                var axis = rank - 1  // advance the last (fastest in C) axis, carrying leftwards
                while axis >= 0 {
                    index[axis] += 1
                    offset += fortranStride[axis]
                    if index[axis] < shape[axis] { break }
                    offset -= fortranStride[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
            initialized = total
        }
    }

    /// Reverses the bytes of every `itemSize`-byte element in place.
    static func swapBytes(_ bytes: inout [UInt8], itemSize: Int) {
        bytes.withUnsafeMutableBufferPointer { buffer in
            var start = 0
            while start + itemSize <= buffer.count {
                var low = start, high = start + itemSize - 1
                while low < high {
                    buffer.swapAt(low, high)
                    low += 1
                    high -= 1
                }
                start += itemSize
            }
        }
    }
}
