/// The elements of a `Tensor` as `Float`: either an owned array or a read-only view into a
/// memory-mapped file (float32 external data, see `MappedFile`).
///
/// A mapped view copies nothing at load time: the weights of a model whose initializers live in an
/// external data file stay in the page cache and are read through the mapping (file-backed memory),
/// so a 2 GB model does not cost 2 GB of anonymous memory just to be opened. Reading (iteration,
/// subscripts, `withUnsafeBufferPointer`) works the same for both forms; mutation (a subscript set,
/// `withUnsafeMutableBufferPointer`) first copies a mapped view into an owned array
/// (copy-on-write), so the file is never written and other tensors sharing it never change.
///
/// Lifetime: a mapped view holds a strong reference to its `MappedFile`, so the pointer it hands out
/// stays valid as long as the storage value (or any copy) is alive; a pointer obtained from
/// `withUnsafeBufferPointer` must not escape the closure, as with `Array`.
///
/// Equality compares the elements (`==` on each Float, so NaN differs from NaN unless both sides
/// are the same buffer, as for `Array`). Indices are `0..<count`.
public struct TensorStorage: @unchecked Sendable {
    // @unchecked: the mapped case holds a pointer into a read-only mapping that no one writes and
    // that its `MappedFile` keeps alive; the owned case is an array (Sendable).
    @usableFromInline
    enum Backing {
        case owned([Float])
        case mapped(file: MappedFile, start: UnsafePointer<Float>, count: Int)
    }

    @usableFromInline
    var backing: Backing

    /// Owned storage of `array` (no copy: the array's buffer is shared copy-on-write).
    public init(_ array: [Float]) { backing = .owned(array) }

    /// A read-only view of `count` floats at `byteOffset` in `file`, without copying.
    ///
    /// - Precondition: `byteOffset` is a multiple of 4 (Float alignment; `mmap` returns page-aligned
    ///   addresses) and `byteOffset + 4 * count <= file.bytes.count`. The bytes are read as
    ///   host-order floats, so callers map only little-endian data on little-endian hosts.
    public init(mapping file: MappedFile, byteOffset: Int, count: Int) {
        precondition(byteOffset >= 0 && byteOffset % MemoryLayout<Float>.alignment == 0, "mapped floats must be aligned")
        precondition(byteOffset + count * MemoryLayout<Float>.stride <= file.bytes.count, "mapped floats past the end of the file")
        guard count > 0, let base = file.bytes.baseAddress else {
            backing = .owned([])
            return
        }
        let start = (base + byteOffset).assumingMemoryBound(to: Float.self)
        backing = .mapped(file: file, start: start, count: count)
    }

    /// True when the elements are read from a mapped file rather than held in memory the process owns.
    public var isMapped: Bool {
        if case .mapped = backing { return true }
        return false
    }

    /// The file a mapped view reads, nil for owned storage.
    public var mappedFile: MappedFile? {
        if case .mapped(let file, _, _) = backing { return file }
        return nil
    }

    /// The first element of a mapped view, nil for owned storage (or an empty tensor). Unlike a
    /// pointer from `withUnsafeBufferPointer` it may be kept: it stays valid as long as `mappedFile`
    /// is alive (hold the storage or the file). The memory is read-only.
    public var mappedBaseAddress: UnsafePointer<Float>? {
        if case .mapped(_, let start, _) = backing { return start }
        return nil
    }

    /// The elements as an owned array: the stored array itself when owned (no copy), a copy of the
    /// mapped floats otherwise. Use it where a `[Float]` is truly needed; read large tensors through
    /// `withUnsafeBufferPointer` instead.
    public var array: [Float] {
        switch backing {
        case .owned(let array): return array
        case .mapped(_, let start, let count): return Array(UnsafeBufferPointer(start: start, count: count))
        }
    }

    /// Calls `body` with the elements as one contiguous buffer (no copy for either form).
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        switch backing {
        case .owned(let array): return try array.withUnsafeBufferPointer(body)
        case .mapped(_, let start, let count): return try body(UnsafeBufferPointer(start: start, count: count))
        }
    }

    /// Calls `body` with the elements as a mutable buffer, first copying a mapped view into an owned
    /// array (the file is never written).
    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        var array = takeOwnedArray()
        defer { backing = .owned(array) }
        return try array.withUnsafeMutableBufferPointer(body)
    }

    /// Moves the owned array out (leaving an empty placeholder, so that the array stays uniquely
    /// referenced and mutating it does not copy), or copies a mapped view into a new array.
    private mutating func takeOwnedArray() -> [Float] {
        switch backing {
        case .owned(let array):
            backing = .owned([])
            return array
        case .mapped(_, let start, let count):
            return Array(UnsafeBufferPointer(start: start, count: count))
        }
    }
}

extension TensorStorage: RandomAccessCollection, MutableCollection {
    public typealias Index = Int
    public typealias Indices = Range<Int>

    @inlinable
    public var startIndex: Int { 0 }

    @inlinable
    public var endIndex: Int {
        switch backing {
        case .owned(let array): return array.count
        case .mapped(_, _, let count): return count
        }
    }

    public subscript(position: Int) -> Float {
        @inlinable get {
            switch backing {
            case .owned(let array): return array[position]
            case .mapped(_, let start, let count):
                precondition(position >= 0 && position < count, "index out of range")
                return start[position]
            }
        }
        set {
            var array = takeOwnedArray()
            array[position] = newValue
            backing = .owned(array)
        }
    }

    @inlinable
    public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R? {
        try withUnsafeBufferPointer(body)
    }
}

extension TensorStorage: Equatable {
    public static func == (lhs: TensorStorage, rhs: TensorStorage) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withUnsafeBufferPointer { a in
            rhs.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress || a.elementsEqual(b) }
        }
    }

    /// Element-wise equality with an array (for tests and checks written against `[Float]`).
    public static func == (lhs: TensorStorage, rhs: [Float]) -> Bool { lhs == TensorStorage(rhs) }
    public static func == (lhs: [Float], rhs: TensorStorage) -> Bool { TensorStorage(lhs) == rhs }
}

extension TensorStorage: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: Float...) { self.init(elements) }
}

extension TensorStorage: CustomStringConvertible {
    /// The elements as an array literal (`[1.0, 2.0]`), prefixed `mapped ` for a mapped view.
    public var description: String { (isMapped ? "mapped " : "") + array.description }
}
