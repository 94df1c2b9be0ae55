#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory (`mmap` with `PROT_READ`, `MAP_PRIVATE`), unmapped when
/// the last reference goes away.
///
/// One instance per external data file of a model load is shared by every tensor that lives in it
/// (`TensorStorage` keeps a reference), so the mapping lasts exactly as long as some tensor, a
/// `Graph` or a `CompiledGraph` still reads it. Pages are read from the file on first touch and
/// count as file-backed memory (`RssFile` in `/proc/self/status`), which the kernel can drop and
/// re-read under memory pressure, not as anonymous memory.
///
/// Edge cases: an empty file is not mapped (`bytes` is empty, `mmap` refuses length 0). The mapping
/// is read-only: a write through it is a segmentation fault, which is why `TensorStorage` copies on
/// mutation. If another process truncates the file while it is mapped, touching the lost pages raises
/// SIGBUS; the file must stay unchanged while the model is in use (as with ONNX Runtime's mapping).
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened at.
    public let path: String
    /// The file's contents; `count` is the file size in bytes at the time of mapping.
    public let bytes: UnsafeRawBufferPointer

    /// Why a file could not be mapped: the `errno` of the failed call and what was being done.
    public struct Failure: Error, Sendable {
        public var code: Int32
        public var operation: String
        /// The C library's text for `code` (e.g. "Permission denied").
        public var reason: String { String(cString: strerror(code)) }
    }

    /// Opens and maps `path`. The file descriptor is closed right away (the mapping keeps the file).
    public init(path: String) throws(Failure) {
        self.path = path
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw Failure(code: errno, operation: "open") }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Failure(code: errno, operation: "stat") }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw Failure(code: EISDIR, operation: "open") }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else { throw Failure(code: errno, operation: "mmap") }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let start = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: start), bytes.count) }
    }
}
