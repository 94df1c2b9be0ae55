import Executor

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Memory for the workbench's prefix cache (`PlanEvaluator`'s saved boundaries), recycled rather
/// than freed, and touched ahead of need.
///
/// Why: a boundary is the activations of the whole evaluation set at one cut (the sample CNN's
/// largest is 2,000 x 2 x 32x14x14 floats, 100 MB). Copied into fresh memory, every 4 KiB page
/// faults on first write; on this machine kind (a Firecracker guest whose memory the host backs on
/// first touch) that measured 45 ms per 100 MB when the guest had the pages, and 230-280 ms when the
/// host had to back them: the copy then cost more than the 150 ms pass it was part of. Into memory
/// already touched, the same copy takes ~9 ms. So slabs go back to a free list when their boundary
/// is evicted, and `reserve` allocates and touches the next ones while the engine is idle.
///
/// Slabs are anonymous mappings rounded up to 2 MiB and advised for transparent huge pages (512x
/// fewer faults when the kernel grants them). Not thread-safe: owned by one actor.
final class BoundaryMemory {
    /// One mapping: `capacity` floats at `base`.
    struct Slab {
        let base: UnsafeMutablePointer<Float>
        let capacity: Int
        /// From `mmap` (else from `allocate`, when mapping failed).
        fileprivate let mapped: Bool
    }

    private static let granule = 2 << 20  // bytes; the huge page size
    private var free: [Slab] = []
    private var all: [Slab] = []

    /// Bytes mapped (in use and free).
    var mappedBytes: Int { all.reduce(0) { $0 + $1.capacity * 4 } }
    /// Capacities (floats) of the free slabs, ascending; for tests.
    var freeCapacities: [Int] { free.map(\.capacity).sorted() }

    deinit {
        for slab in all { Self.unmap(slab) }
    }

    /// A slab of at least `count` floats: the smallest free one that fits and is at most twice the
    /// size asked for (a larger one stays for the boundary it was reserved for), else a new mapping
    /// (untouched: the caller's first write faults its pages). Give it back with `give`.
    func take(count: Int) -> Slab {
        takeFree(count: count) ?? map(count: count)
    }

    /// The free slab `take(count:)` would return, or nil when there is none (nothing is mapped).
    func takeFree(count: Int) -> Slab? {
        let fitting = free.indices.filter { Self.fits(free[$0], count) }
        return fitting.min(by: { free[$0].capacity < free[$1].capacity }).map { free.remove(at: $0) }
    }

    private static func fits(_ slab: Slab, _ count: Int) -> Bool {
        slab.capacity >= count && slab.capacity <= 2 * rounded(count)
    }

    /// Returns a slab to the free list (its pages stay touched).
    func give(_ slab: Slab) {
        free.append(slab)
    }

    /// Makes sure a distinct free slab that `take(count:)` would return exists for each of `counts`, mapping
    /// and touching what is missing, one page at a time. Stops early, with what it has done kept,
    /// when `isCancelled()` turns true (checked every 8 MiB). Returns whether everything was reserved.
    @discardableResult
    func reserve(counts: [Int], isCancelled: () -> Bool) -> Bool {
        var available = free
        for count in counts {
            if let i = available.indices.first(where: { Self.fits(available[$0], count) }) {
                available.remove(at: i)
                continue
            }
            let slab = map(count: count)
            let raw = UnsafeMutableRawPointer(slab.base)
            let bytes = slab.capacity * 4
            var offset = 0
            while offset < bytes {
                if offset % (8 << 20) == 0 && isCancelled() {
                    free.append(slab)  // partly touched; still a valid free slab
                    return false
                }
                raw.storeBytes(of: 0, toByteOffset: offset, as: UInt8.self)
                offset += 4096
            }
            free.append(slab)
        }
        return true
    }

    private static func rounded(_ count: Int) -> Int {
        let bytes = max(count, 1) * 4
        return (bytes + granule - 1) / granule * granule / 4
    }

    private func map(count: Int) -> Slab {
        let capacity = Self.rounded(count)
        let bytes = capacity * 4
        #if canImport(Glibc)
        if let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED {
            _ = madvise(raw, bytes, 14)  // MADV_HUGEPAGE (not exported by the Glibc module)
            let slab = Slab(base: raw.bindMemory(to: Float.self, capacity: capacity), capacity: capacity, mapped: true)
            all.append(slab)
            return slab
        }
        #endif
        let slab = Slab(base: .allocate(capacity: capacity), capacity: capacity, mapped: false)
        all.append(slab)
        return slab
    }

    private static func unmap(_ slab: Slab) {
        #if canImport(Glibc)
        if slab.mapped {
            munmap(slab.base, slab.capacity * 4)
            return
        }
        #endif
        slab.base.deallocate()
    }
}
