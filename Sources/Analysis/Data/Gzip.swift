import Executor
import Foundation
import ZIPFoundation

/// Decompression of single-member gzip files (RFC 1952), such as Debian's `*-idx3-ubyte.gz`.
///
/// The header is parsed here (FEXTRA, FNAME, FCOMMENT and FHCRC are skipped, the header CRC checked);
/// the raw deflate stream is inflated by ZIPFoundation's `Data.decompress`; the trailer's CRC-32 and
/// ISIZE are then checked against the output.
public enum Gzip {
    /// True when `bytes` starts with the gzip magic `1f 8b`.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
    }

    /// The decompressed contents of a gzip file held in memory.
    ///
    /// A multi-member gzip (several gzip files concatenated) is not supported and fails the checksum.
    /// - Parameter file: the name used in errors.
    /// - Throws: `QScopeError(file: file, ...)` for a bad magic, an unknown method or flag, a header
    ///   CRC mismatch, a truncated file, an invalid deflate stream, or a CRC-32/size mismatch.
    public static func decompress(_ bytes: [UInt8], file: String) throws -> [UInt8] {
        guard isGzip(bytes) else { throw QScopeError(file: file, "not a gzip file (it does not start with 1f 8b)") }
        guard bytes.count >= 18 else { throw QScopeError(file: file, "truncated gzip file (\(bytes.count) bytes)") }
        guard bytes[2] == 8 else { throw QScopeError(file: file, "unsupported gzip compression method \(bytes[2]) (only deflate, 8, exists)") }
        let flags = bytes[3]
        guard flags & 0xE0 == 0 else { throw QScopeError(file: file, "invalid gzip header: reserved flag bits are set") }

        let truncatedHeader = QScopeError(file: file, "truncated gzip file: it ends inside the header")
        var position = 10  // ID1 ID2 CM FLG MTIME(4) XFL OS
        if flags & 0x04 != 0 {  // FEXTRA: 2-byte length, then that many bytes
            guard position + 2 <= bytes.count else { throw truncatedHeader }
            position += 2 + (Int(bytes[position]) | Int(bytes[position + 1]) << 8)
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {  // FNAME, FCOMMENT: zero-terminated
            guard position < bytes.count, let end = bytes[position...].firstIndex(of: 0) else { throw truncatedHeader }
            position = end + 1
        }
        if flags & 0x02 != 0 {  // FHCRC: low 16 bits of the CRC-32 of the header so far
            guard position + 2 <= bytes.count else { throw truncatedHeader }
            let stored = UInt16(bytes[position]) | UInt16(bytes[position + 1]) << 8
            let actual = UInt16(truncatingIfNeeded: Data(bytes[0..<position]).crc32(checksum: 0))
            guard stored == actual else { throw QScopeError(file: file, "corrupt gzip header: header checksum mismatch") }
            position += 2
        }
        let trailerStart = bytes.count - 8
        guard position < trailerStart else { throw QScopeError(file: file, "truncated gzip file: no compressed data") }

        let storedCRC = littleEndianUInt32(bytes, at: trailerStart)
        let storedSize = littleEndianUInt32(bytes, at: trailerStart + 4)
        let compressed = Data(bytes[position..<trailerStart])
        let output = try inflate(compressed, expectedSize: Int(storedSize), file: file)
        guard UInt32(truncatingIfNeeded: output.bytes.count) == storedSize else {
            throw QScopeError(file: file, "corrupt gzip file: it decompresses to \(output.bytes.count) bytes but its trailer says \(storedSize)")
        }
        guard output.crc == storedCRC else {
            throw QScopeError(file: file, "corrupt gzip file: CRC-32 mismatch (damaged, truncated, or several gzip members)")
        }
        return output.bytes
    }

    /// Inflates a raw deflate stream with ZIPFoundation.
    ///
    /// ZIPFoundation's Linux `decode` sets `avail_in` to the full buffer size whatever the provider
    /// returns, and loops forever when the provider returns no bytes before the stream ends. So the
    /// buffer size is exactly the input length (the provider hands over everything in one chunk), and a
    /// second request, which only comes when the stream has not ended, means truncation and throws.
    private static func inflate(_ compressed: Data, expectedSize: Int, file: String) throws -> (bytes: [UInt8], crc: UInt32) {
        struct Truncated: Error {}
        var output: [UInt8] = []
        // ISIZE comes from the file: never trust it beyond deflate's maximum ratio (~1032:1).
        output.reserveCapacity(min(expectedSize, compressed.count * 1032 + 64))
        do {
            let crc = try Data.decompress(
                size: Int64(compressed.count), bufferSize: compressed.count, skipCRC32: false,
                provider: { position, _ in
                    guard position == 0 else { throw Truncated() }
                    return compressed
                },
                consumer: { chunk in output.append(contentsOf: chunk) }
            )
            return (output, crc)
        } catch is Truncated {
            throw QScopeError(file: file, "truncated gzip file: the compressed data ends early")
        } catch {
            throw QScopeError(file: file, "corrupt gzip file: the compressed data is not a valid deflate stream")
        }
    }

    private static func littleEndianUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << (8 * UInt32($1)) }
    }
}
