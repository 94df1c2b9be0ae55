import Executor
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file and file-prefix reads with one-line, file-naming errors.
///
/// POSIX calls rather than `Data(contentsOf:)` so that the message says what errno says ("permission
/// denied", "is a directory") instead of a platform-specific localized paragraph.
enum DataFileReader {
    /// Every byte of the file at `path`.
    /// - Throws: `QScopeError(file: path, "no such file")`, `"... is a directory ..."`, or `"cannot read: <reason>"`.
    static func readAll(_ path: String) throws -> [UInt8] {
        try withOpenFile(path) { fd, size in try read(fd, upTo: size, path: path) }
    }

    /// At most the first `count` bytes of the file at `path` (fewer when the file is shorter), for sniffing its format.
    static func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
        try withOpenFile(path) { fd, size in try read(fd, upTo: min(count, size), path: path) }
    }

    /// True when `path` names an existing regular file (or a link to one).
    static func isFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    private static func withOpenFile<R>(_ path: String, _ body: (Int32, Int) throws -> R) throws -> R {
        var info = stat()
        if stat(path, &info) != 0 {
            let code = errno
            throw QScopeError(file: path, code == ENOENT ? "no such file" : "cannot read: \(describe(code))")
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw QScopeError(file: path, "is a directory, not a data file")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw QScopeError(file: path, "cannot read: \(describe(errno))") }
        defer { close(fd) }
        return try body(fd, max(0, Int(info.st_size)))
    }

    /// Reads up to `limit` bytes; a file that shrank meanwhile yields what is there.
    private static func read(_ fd: Int32, upTo limit: Int, path: String) throws -> [UInt8] {
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: limit) { buffer, initialized in
            var done = 0
            while done < limit, let base = buffer.baseAddress {
                let got = posixRead(fd, base + done, limit - done)
                if got > 0 {
                    done += got
                } else if got == 0 {
                    break
                } else if errno != EINTR {
                    failure = errno
                    break
                }
            }
            initialized = done
        }
        if failure != 0 { throw QScopeError(file: path, "cannot read: \(describe(failure))") }
        return bytes
    }

    static func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text).lowercased()
    }
}

/// `read(2)`, under a name that the enum's own `read(_:upTo:path:)` does not shadow.
@inline(__always)
private func posixRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(fd, buffer, count)
}
