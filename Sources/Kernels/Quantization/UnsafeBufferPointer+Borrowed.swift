extension UnsafeBufferPointer {
    /// Calls `body` with the buffer itself: lets the quantizers' loops, written against
    /// `Array.withUnsafeBufferPointer`, take a buffer (a weight read in place, e.g. from a mapped
    /// file) without a copy.
    @inline(__always)
    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Element>) throws -> R) rethrows -> R {
        try body(self)
    }
}
