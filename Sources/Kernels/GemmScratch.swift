#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-thread packing buffers for GEMM, allocated on a thread's first GEMM and kept for the
/// thread's lifetime (freed by a pthread key destructor).
///
/// Why not allocate per call: a packed B block is ~0.5 MiB, which glibc serves with mmap, so every
/// call would pay an mmap/munmap pair and ~130 page faults; with batch-1 inference that costs more
/// than the arithmetic.
struct GemmScratch {
    /// Packed A block: `roundUp(mc, 12) * kc` floats, 64-byte aligned.
    let a: UnsafeMutablePointer<Float>
    /// Packed B block: `roundUp(nc, 32) * kc` floats, 64-byte aligned.
    let b: UnsafeMutablePointer<Float>
    /// One 12 x 32 tile for edge stores.
    let tile: UnsafeMutablePointer<Float>

    static let aCount = roundUp(GemmBlocking.mc, GemmBlocking.mr) * GemmBlocking.kc
    static let bCount = roundUp(GemmBlocking.nc, GemmBlocking.nr) * GemmBlocking.kc
    static let tileCount = GemmBlocking.mr * GemmBlocking.nr

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { raw in
            raw?.deallocate()
        }
        precondition(rc == 0, "GemmScratch: pthread_key_create failed")
        return key
    }()

    /// The calling thread's buffers.
    static var current: GemmScratch {
        let raw: UnsafeMutableRawPointer
        if let existing = pthread_getspecific(key) {
            raw = existing
        } else {
            raw = UnsafeMutableRawPointer.allocate(
                byteCount: (aCount + bCount + tileCount) * MemoryLayout<Float>.stride, alignment: 64)
            raw.bindMemory(to: Float.self, capacity: aCount + bCount + tileCount)
            pthread_setspecific(key, raw)
        }
        let base = raw.assumingMemoryBound(to: Float.self)
        return GemmScratch(a: base, b: base + aCount, tile: base + aCount + bCount)
    }
}
