import Executor
import Foundation
import ZIPFoundation

/// Reading arrays from an `.npz`: a zip archive of `.npy` files, one per keyword of `numpy.savez`
/// (stored) or `numpy.savez_compressed` (deflated); `np.savez(f, x=a)` writes the entry `x.npy`.
package enum NPZ {
    /// The archive's arrays whose keys are in `keys` (every array when `keys` is nil; absent keys are
    /// simply missing from the result), plus every key the archive holds, in archive order.
    /// - Throws: `QScopeError(file: path, ...)` when the file is missing or not a zip archive, or an
    ///   entry is corrupt (CRC mismatch) or not a valid `.npy` (the message names the entry).
    package static func read(path: String, keys: Set<String>?) throws -> (arrays: [String: NPYArray], allKeys: [String]) {
        guard DataFileReader.isFile(path) else {
            _ = try DataFileReader.readPrefix(path, count: 0)  // throws the precise reason (missing, directory, ...)
            throw QScopeError(file: path, "not a regular file")
        }
        let archive: Archive
        do {
            archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
        } catch {
            throw QScopeError(file: path, "not a readable zip archive (an .npz is written by numpy.savez or numpy.savez_compressed)")
        }
        var arrays: [String: NPYArray] = [:]
        var allKeys: [String] = []
        for entry in archive where entry.type == .file {
            let name = entry.path
            let key = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            allKeys.append(key)
            guard keys?.contains(key) ?? true, arrays[key] == nil else { continue }
            var bytes: [UInt8] = []
            // The sizes come from the file: reserve no more than the archive could plausibly inflate to.
            bytes.reserveCapacity(Int(min(entry.uncompressedSize, entry.compressedSize &* 1032 &+ 1024, 1 << 31)))
            let crc: CRC32
            do {
                crc = try archive.extract(entry, bufferSize: 1 << 20, skipCRC32: false) { chunk in
                    bytes.append(contentsOf: chunk)
                }
            } catch {
                throw QScopeError(file: path, "\(name): corrupt archive entry (it cannot be decompressed)")
            }
            guard crc == entry.checksum else {
                throw QScopeError(file: path, "\(name): corrupt archive entry (CRC-32 mismatch)")
            }
            do {
                arrays[key] = try NPY.read(bytes, file: path)
            } catch let error as QScopeError {
                throw QScopeError(file: path, "\(name): \(error.message)")
            }
        }
        return (arrays, allKeys)
    }
}
