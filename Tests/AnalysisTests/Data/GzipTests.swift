import Executor
import Testing
import Analysis

/// Gzip.decompress: optional header fields, the trailer checks, and broken input.
@Suite struct GzipTests {
    private let payload: [UInt8] = Array(repeating: Array(0...255), count: 3).flatMap { $0 }

    @Test func everyOptionalHeaderField() throws {
        // FEXTRA + FNAME + FCOMMENT + FHCRC, written by the fixture script.
        #expect(try Gzip.decompress(DataFixtures.bytes("all_flags.gz"), file: "all_flags.gz") == payload)
    }

    @Test func pythonGzipWithFileNameAndEmptyPayload() throws {
        let idx = try Gzip.decompress(DataFixtures.bytes("tinygz-labels-idx1-ubyte.gz"), file: "l.gz")
        #expect(idx == [0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9])
        #expect(try Gzip.decompress(DataFixtures.bytes("empty_payload.gz"), file: "e.gz") == [])
    }

    @Test func trailerAndHeaderChecksums() {
        expectDataError(file: "bad_crc.gz", "corrupt gzip file: CRC-32 mismatch") {
            _ = try Gzip.decompress(DataFixtures.bytes("bad_crc.gz"), file: "bad_crc.gz")
        }
        expectDataError(file: "bad_size.gz", "corrupt gzip file: it decompresses to 768 bytes but its trailer says 769", exact: true) {
            _ = try Gzip.decompress(DataFixtures.bytes("bad_size.gz"), file: "bad_size.gz")
        }
        expectDataError(file: "bad_hcrc.gz", "corrupt gzip header: header checksum mismatch", exact: true) {
            _ = try Gzip.decompress(DataFixtures.bytes("bad_hcrc.gz"), file: "bad_hcrc.gz")
        }
    }

    @Test func truncatedAndGarbage() {
        let full = DataFixtures.bytes("all_flags.gz")
        // Every cut is an error, never a hang or a crash.
        for length in stride(from: 0, to: full.count, by: 7) {
            expectDataError(file: "cut.gz", "gzip") { _ = try Gzip.decompress(Array(full.prefix(length)), file: "cut.gz") }
        }
        expectDataError(file: "truncated.gz", "truncated gzip file: the compressed data ends early", exact: true) {
            _ = try Gzip.decompress(DataFixtures.bytes("truncated.gz"), file: "truncated.gz")
        }
        var corrupt = full
        for index in 60..<80 { corrupt[index] ^= 0x5A }  // inside the deflate data (the header is 42 bytes)
        expectDataError(file: "x.gz", "corrupt gzip file") { _ = try Gzip.decompress(corrupt, file: "x.gz") }
        var method = full
        method[2] = 7
        expectDataError(file: "m.gz", "unsupported gzip compression method 7 (only deflate, 8, exists)", exact: true) {
            _ = try Gzip.decompress(method, file: "m.gz")
        }
        expectDataError(file: "n.gz", "not a gzip file (it does not start with 1f 8b)", exact: true) {
            _ = try Gzip.decompress([1, 2, 3], file: "n.gz")
        }
        #expect(!Gzip.isGzip([0x1F]))
        #expect(Gzip.isGzip(full))
    }
}
