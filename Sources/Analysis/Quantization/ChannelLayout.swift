import Executor
/// Moves a weight tensor's output axis to the front and back, so that every quantizer sees a
/// `[channels, rest]` row-major matrix whose rows are the output channels.
///
/// For shape `[d0, …, d(k−1)]` and output axis `a`: `outer = d0·…·d(a−1)`, `channels = da`,
/// `inner = d(a+1)·…`. Element `(o, c, i)` of the tensor is element `(c, o·inner + i)` of the matrix.
/// Axis 0 (Conv, Gemm with transB=1) is the identity, so no copy is made there.
struct ChannelLayout {
    let outer: Int
    let channels: Int
    let inner: Int

    init(shape: [Int], outputAxis: Int) throws {
        guard shape.indices.contains(outputAxis) else {
            throw QScopeError("output axis \(outputAxis) is outside a weight of shape \(shape)")
        }
        outer = shape[..<outputAxis].reduce(1, *)
        channels = shape[outputAxis]
        inner = shape[(outputAxis + 1)...].reduce(1, *)
    }

    /// Whether the tensor layout already is `[channels, columns]` (output axis first, or only
    /// leading axes of size 1).
    var isChannelMajor: Bool { outer == 1 }

    /// Elements per channel (the matrix's columns).
    var columns: Int { outer * inner }

    /// Tensor layout -> `[channels, columns]` (the array itself when the layout already is).
    func toChannelMajor(_ values: [Float]) -> [Float] {
        if outer == 1 { return values }
        return values.withUnsafeBufferPointer(toChannelMajor)
    }

    /// A weight's elements -> `[channels, columns]`, read through the buffer (a mapped weight is not
    /// copied first). When the layout already is channel-major, owned storage is returned without a
    /// copy and a mapped view is copied once into the array the quantizers take.
    func toChannelMajor(_ values: TensorStorage) -> [Float] {
        if outer == 1 { return values.array }
        return values.withUnsafeBufferPointer(toChannelMajor)
    }

    private func toChannelMajor(_ values: UnsafeBufferPointer<Float>) -> [Float] {
        [Float](unsafeUninitializedCapacity: values.count) { out, initialized in
            for o in 0..<outer {
                for c in 0..<channels {
                    for i in 0..<inner { out[c * columns + o * inner + i] = values[(o * channels + c) * inner + i] }
                }
            }
            initialized = values.count
        }
    }

    /// `[channels, columns]` -> tensor layout.
    func fromChannelMajor(_ values: [Float]) -> [Float] {
        if outer == 1 { return values }
        var out = [Float](repeating: 0, count: values.count)
        for o in 0..<outer {
            for c in 0..<channels {
                for i in 0..<inner { out[(o * channels + c) * inner + i] = values[c * columns + o * inner + i] }
            }
        }
        return out
    }
}
