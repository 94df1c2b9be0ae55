import Executor
/// The IDX format of MNIST and Fashion-MNIST (after any gunzip).
///
/// Layout: two zero bytes, an element-type byte (0x08 = uint8), a dimension-count byte, one big-endian
/// UInt32 per dimension, then the elements in row-major order. Images are `0x00000803` (N, rows,
/// columns), labels `0x00000801` (N).
enum IDX {
    /// Images as stored: `count * rows * columns` pixels, 0...255, row-major.
    struct Images: Sendable {
        var count: Int
        var rows: Int
        var columns: Int
        var pixels: [UInt8]
    }

    /// The kind of IDX file, judged by its first four bytes.
    enum Kind: Equatable {
        case images, labels
        /// Not uint8 or not the rank qscope expects: (type byte, dimension count).
        case other(type: UInt8, rank: UInt8)
    }

    /// The kind of IDX file these bytes start, or nil when they do not look like IDX at all.
    static func kind(of bytes: [UInt8]) -> Kind? {
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0,
              [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E].contains(bytes[2]), bytes[3] > 0 else { return nil }
        switch (bytes[2], bytes[3]) {
        case (0x08, 3): return .images
        case (0x08, 1): return .labels
        case let (type, rank): return .other(type: type, rank: rank)
        }
    }

    /// Parses an images file.
    /// - Throws: `QScopeError(file: file, ...)` for a wrong magic, a truncated header or data, or extra bytes.
    static func images(_ bytes: [UInt8], file: String) throws -> Images {
        let (dims, start) = try header(bytes, expecting: .images, file: file)
        let pixels = Array(bytes[start...])
        return Images(count: dims[0], rows: dims[1], columns: dims[2], pixels: pixels)
    }

    /// Parses a labels file: one uint8 label per sample.
    /// - Throws: `QScopeError(file: file, ...)` as for `images`.
    static func labels(_ bytes: [UInt8], file: String) throws -> [Int] {
        let (_, start) = try header(bytes, expecting: .labels, file: file)
        return bytes[start...].map { Int($0) }
    }

    /// Checks the magic and sizes; returns the dimensions and the offset of the first element.
    private static func header(_ bytes: [UInt8], expecting expected: Kind, file: String) throws -> (dims: [Int], dataStart: Int) {
        let what = expected == .images ? "images (magic 00 00 08 03)" : "labels (magic 00 00 08 01)"
        guard let kind = kind(of: bytes) else {
            throw QScopeError(file: file, "not an IDX \(what) file")
        }
        guard kind == expected else {
            switch kind {
            case .images, .labels:
                throw QScopeError(file: file, "is an IDX \(kind == .images ? "images" : "labels") file where IDX \(what) were expected")
            case let .other(type, rank):
                throw QScopeError(file: file, "unsupported IDX file: element type 0x\(String(type, radix: 16, uppercase: true)) with \(rank) dimensions; qscope reads uint8 (0x08) \(what)")
            }
        }
        let rank = Int(bytes[3])
        let dataStart = 4 + 4 * rank
        guard bytes.count >= dataStart else { throw QScopeError(file: file, "truncated: the file ends inside the IDX header") }
        var dims: [Int] = []
        var total = 1
        for axis in 0..<rank {
            let offset = 4 + 4 * axis
            let dim = (0..<4).reduce(0) { $0 << 8 | Int(bytes[offset + $1]) }
            dims.append(dim)
            let (next, overflow) = total.multipliedReportingOverflow(by: dim)
            guard !overflow else { throw QScopeError(file: file, "IDX dimensions \(dims) are too large") }
            total = next
        }
        let found = bytes.count - dataStart
        if found < total { throw QScopeError(file: file, "truncated: expected \(total) bytes of data, found \(found)") }
        if found > total { throw QScopeError(file: file, "expected \(total) bytes of data, found \(found) (extra bytes after the data)") }
        return (dims, dataStart)
    }
}
