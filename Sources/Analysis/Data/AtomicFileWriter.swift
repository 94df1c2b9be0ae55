import Executor
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers see either the old file or the complete new one, never a half-written one.
///
/// The bytes go to a uniquely named temporary file in the destination's own directory (rename(2) is
/// atomic only within one file system), are flushed with fsync, and the temporary file is then renamed
/// over the destination. On any failure the temporary file is removed and the destination is untouched.
enum AtomicFileWriter {
    /// Replaces (or creates) the file at `path` with `bytes`; permissions 0644 less the umask.
    /// - Throws: `QScopeError(file: path, "cannot write: <reason>")`.
    static func write(_ bytes: [UInt8], to path: String) throws {
        guard !path.isEmpty else { throw QScopeError(file: path, "cannot write: empty path") }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard !name.isEmpty else { throw QScopeError(file: path, "cannot write: the path names a directory") }

        let temporary = "\(directory).\(name).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw QScopeError(file: path, "cannot write: \(DataFileReader.describe(errno))") }

        var failure: Int32 = 0
        bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count, let base = raw.baseAddress {
                let wrote = posixWrite(fd, base + done, raw.count - done)
                if wrote >= 0 {
                    done += wrote
                } else if errno != EINTR {
                    failure = errno
                    return
                }
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(temporary, path) != 0 { failure = errno }
        if failure != 0 {
            unlink(temporary)
            throw QScopeError(file: path, "cannot write: \(DataFileReader.describe(failure))")
        }
    }
}

/// `write(2)`, under a name that `AtomicFileWriter.write(_:to:)` does not shadow.
@inline(__always)
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
