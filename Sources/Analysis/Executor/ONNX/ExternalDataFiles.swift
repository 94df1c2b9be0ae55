import Foundation

/// The external data files of one model load: resolves a tensor's `external_data` entries
/// (`location`, `offset`, `length`) against the model's folder, checks them, and maps each data file
/// once (`MappedFile`), shared by every tensor stored in it.
///
/// Every broken reference is a one-line `QScopeError` naming the tensor and the external file (the
/// loader adds the model file): a location that is missing, absolute or leaves the model's folder; an
/// offset or length that is not a non-negative whole number; a file that does not exist or cannot be
/// read; a byte range past the end of the file; a length that does not match the tensor's shape and
/// element type. `checksum` entries are not verified: that would read every page at load time,
/// which is what mapping avoids (ONNX Runtime does not verify them either).
package final class ExternalDataFiles {
    /// The folder of the model file; locations are relative to it.
    package let baseDirectory: String
    private var mapped: [String: MappedFile] = [:]

    package init(baseDirectory: String) {
        self.baseDirectory = baseDirectory
    }

    /// Where one tensor's bytes are: `length` bytes at `offset` in `file`.
    package struct Region {
        package let file: MappedFile
        /// Byte offset in the file.
        package let offset: Int
        /// Byte count.
        package let length: Int

        /// The region's bytes (valid while `file` is alive).
        package var bytes: UnsafeRawBufferPointer {
            guard length > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return UnsafeRawBufferPointer(rebasing: file.bytes[offset..<(offset + length)])
        }
    }

    /// The checked region of `proto`'s external data, which must hold exactly `neededBytes` bytes
    /// (the tensor's element count times its element size; `shape` and `dataType` only word the error).
    package func region(of proto: Onnx_TensorProto, name: String, shape: [Int], dataType: DataType, neededBytes: Int) throws -> Region {
        var location: String?
        var offsetText: String?
        var lengthText: String?
        for entry in proto.externalData {
            switch entry.key {
            case "location": location = entry.value
            case "offset": offsetText = entry.value
            case "length": lengthText = entry.value
            default: break  // "checksum" and unknown keys: see the type's comment
            }
        }
        guard let location, !location.isEmpty else {
            throw QScopeError("tensor '\(name)' keeps its data in an external file but names none (no 'location' entry)")
        }
        let prefix = "tensor '\(name)': external data file '\(location)'"
        let characters = Array(location.prefix(3))
        let windowsDrive = characters.count == 3 && characters[0].isLetter && characters[1] == ":" && (characters[2] == "\\" || characters[2] == "/")
        if location.hasPrefix("/") || location.hasPrefix("\\") || windowsDrive {
            throw QScopeError("\(prefix) is an absolute path; a location must be relative to the model's folder")
        }
        // Both separators: a model saved on Windows writes `..\weights.bin`.
        if location.split(whereSeparator: { $0 == "/" || $0 == "\\" }).contains("..") {
            throw QScopeError("\(prefix) leaves the model's folder ('..'); a location must stay inside it")
        }
        let offset = try Self.byteCount(offsetText, entry: "offset", prefix: prefix) ?? 0
        let length = try Self.byteCount(lengthText, entry: "length", prefix: prefix)

        let file = try mappedFile(location, prefix: prefix)
        let size = file.bytes.count
        if let length {
            guard offset <= size, length <= size - offset else {
                throw QScopeError("\(prefix) has \(size) bytes, but the tensor's data is \(length) bytes at offset \(offset), past its end")
            }
            guard length == neededBytes else {
                throw QScopeError("\(prefix): length \(length) bytes, but the tensor's shape \(shape) of \(dataType) needs \(neededBytes)")
            }
        } else {
            // No length: the data runs to the end of the file (ONNX's rule), which must then be exactly
            // the tensor's size.
            guard offset <= size else {
                throw QScopeError("\(prefix) has \(size) bytes, but the tensor's data starts at offset \(offset)")
            }
            guard size - offset == neededBytes else {
                throw QScopeError("\(prefix) holds \(size - offset) bytes from offset \(offset) to its end (no length given), but the tensor's shape \(shape) of \(dataType) needs \(neededBytes)")
            }
        }
        return Region(file: file, offset: offset, length: neededBytes)
    }

    /// The value of an `offset` or `length` entry: nil when absent, else a non-negative whole number.
    private static func byteCount(_ text: String?, entry: String, prefix: String) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), value >= 0 else {
            throw QScopeError("\(prefix) has \(entry) '\(text)', not a non-negative whole number of bytes")
        }
        return value
    }

    /// The mapping of `location`, made on first use.
    private func mappedFile(_ location: String, prefix: String) throws -> MappedFile {
        let path = (baseDirectory as NSString).appendingPathComponent(location)
        if let existing = mapped[path] { return existing }
        do {
            let file = try MappedFile(path: path)
            mapped[path] = file
            return file
        } catch {
            if error.code == ENOENT { throw QScopeError("\(prefix) does not exist (looked for \(path))") }
            if error.code == EISDIR { throw QScopeError("\(prefix) is a directory, not a data file (\(path))") }
            throw QScopeError("\(prefix) cannot be read (\(error.operation): \(error.reason))")
        }
    }
}
