import Foundation

/// Free scratch buffers of the reverse-mode rules, kept for reuse (see `withScratch`).
///
/// At most `maxBuffers` buffers and `maxFloats` floats are kept; beyond that the smallest free
/// buffers are released. Thread-safe.
final class ScratchCache: @unchecked Sendable {
    struct Buffer {
        let pointer: UnsafeMutablePointer<Float>
        let capacity: Int
    }

    static let shared = ScratchCache()

    private let lock = NSLock()
    private var free: [Buffer] = []
    private let maxBuffers = 16
    private let maxFloats = 1 << 29

    /// A buffer of at least `count` floats (contents undefined): the smallest free one that fits, or a new one.
    func take(_ count: Int) -> Buffer {
        lock.lock()
        defer { lock.unlock() }
        var best: Int?
        for (i, b) in free.enumerated() where b.capacity >= count && (best == nil || b.capacity < free[best!].capacity) {
            best = i
        }
        if let best { return free.remove(at: best) }
        return Buffer(pointer: .allocate(capacity: count), capacity: count)
    }

    /// Returns a buffer from `take` to the cache.
    func give(_ buffer: Buffer) {
        lock.lock()
        defer { lock.unlock() }
        free.append(buffer)
        free.sort { $0.capacity > $1.capacity }
        var total = free.reduce(0) { $0 + $1.capacity }
        while free.count > maxBuffers || total > maxFloats {
            let smallest = free.removeLast()
            total -= smallest.capacity
            smallest.pointer.deallocate()
        }
    }
}
