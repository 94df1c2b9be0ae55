import Synchronization

/// Allocates float buffers whose address no compiled graph has seen before.
///
/// Why: an operator caches its packed form of a constant weight keyed by the buffer's address
/// (`WeightPackCache`). When a substituted buffer is freed and the allocator hands the same address
/// to the next quantized copy, the operator would keep using the packing of the old weights. Until
/// the executor invalidates that cache on `substitute`, every buffer we substitute has an address
/// never used before in this process (addresses are remembered, not memory).
enum FreshBuffers {
    private static let used = Mutex(Set<UInt>())

    static func allocate(copying values: [Float]) -> UnsafeMutablePointer<Float> {
        var rejected: [UnsafeMutablePointer<Float>] = []
        defer { for buffer in rejected { buffer.deallocate() } }
        while true {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
            let fresh = used.withLock { $0.insert(UInt(bitPattern: buffer)).inserted }
            if fresh {
                values.withUnsafeBufferPointer { buffer.initialize(from: $0.baseAddress!, count: values.count) }
                return buffer
            }
            rejected.append(buffer)
        }
    }
}
