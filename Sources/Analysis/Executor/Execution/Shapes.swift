/// Shape arithmetic shared by the operators.
enum Shapes {
    /// Row-major strides of a contiguous tensor of `shape`, in elements.
    static func strides(_ shape: [Int]) -> [Int] {
        var result = [Int](repeating: 1, count: shape.count)
        var running = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            result[d] = running
            running *= shape[d]
        }
        return result
    }

    /// numpy's multidirectional broadcast of two shapes, or nil when they do not broadcast.
    static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if x == y || y == 1 { result[i] = x } else if x == 1 { result[i] = y } else { return nil }
        }
        return result
    }

    /// Element strides for reading a tensor of `shape` as if broadcast to `target` (0 on broadcast dims).
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        let own = strides(shape)
        let offset = target.count - shape.count
        return (0..<target.count).map { d in
            d < offset || shape[d - offset] == 1 ? 0 : own[d - offset]
        }
    }

    /// Product of `shape[range]`.
    static func product(_ shape: [Int], _ range: Range<Int>) -> Int {
        range.reduce(1) { $0 * shape[$1] }
    }
}

/// Copies a strided view of `source` into contiguous `destination`.
///
/// `destination[i0,…,ik] = source[offset + Σ i_d · strides[d]]` for every index of `shape`. Strides
/// may be 0 (broadcast) or negative (reversed slices). Dims of size 1 and mergeable neighbours are
/// collapsed at construction, so a forward pass runs a few tight loops and allocates nothing.
struct StridedCopy: Sendable {
    let shape: [Int]
    let strides: [Int]
    let offset: Int
    let count: Int

    init(shape: [Int], strides: [Int], offset: Int = 0) {
        var dims: [(Int, Int)] = []
        for (size, stride) in zip(shape, strides) where size != 1 {
            if let last = dims.last, last.1 == stride * size {
                dims[dims.count - 1] = (last.0 * size, stride)
            } else {
                dims.append((size, stride))
            }
        }
        if dims.isEmpty { dims = [(1, 1)] }
        self.shape = dims.map(\.0)
        self.strides = dims.map(\.1)
        self.offset = offset
        self.count = shape.reduce(1, *)
    }

    func run(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        let rank = shape.count
        let inner = shape[rank - 1]
        let innerStride = strides[rank - 1]
        let outerCount = count / inner
        shape.withUnsafeBufferPointer { shape in
            strides.withUnsafeBufferPointer { strides in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { index in
                    index.initialize(repeating: 0)
                    var sourceOffset = offset
                    var out = destination
                    for _ in 0..<outerCount {
                        let src = source + sourceOffset
                        if innerStride == 1 {
                            out.update(from: src, count: inner)
                        } else if innerStride == 0 {
                            out.update(repeating: src.pointee, count: inner)
                        } else {
                            for i in 0..<inner { out[i] = src[i * innerStride] }
                        }
                        out += inner
                        // Advance the multi-index over the outer dims, innermost first.
                        var d = rank - 2
                        while d >= 0 {
                            index[d] += 1
                            sourceOffset += strides[d]
                            if index[d] < shape[d] { break }
                            sourceOffset -= strides[d] * shape[d]
                            index[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
    }
}
