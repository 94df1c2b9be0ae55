import Executor
import Kernels

/// SplitQuant (see the quantization methods page in docs/): the weight split into lower, middle and upper parts by an optimal
/// 1-D 3-means (`ThreeWaySplit`), each part (the weight with the other parts' entries zeroed)
/// quantized with the inner spec, and the dequantized parts summed, which equals running the three
/// split layers and adding their outputs (the layer is linear in W).
///
/// Zeroed entries stay exactly zero only if the inner quantizer represents 0 exactly. Symmetric and
/// asymmetric integer grids (integer zero points) and FP grids do. Two families do not: a LUT part's
/// zeros decode to its centroid nearest 0, and `pot` has no zero level (0 maps to +α). For `lut` and
/// `pot` the leak (a zeroed entry adding a nonzero value where another part owns it) is real and
/// measured by the SQNR.
///
/// Size: dense storage of the three parts is `3·(n·b) + 3·metadata`; the compact form,
/// reported as the size, is `n·b` codes plus `ceil(n·log2 3)` bits of part ids plus the three parts'
/// metadata.
struct SplitQuantizer {
    let inner: QuantizerSpec
    /// Cluster each output channel on its own (Conv kernels) instead of the whole matrix.
    let perChannel: Bool

    struct Result {
        var values: [Float]
        var compact: StorageBits
        var dense: StorageBits
    }

    /// `sensitivity` (same layout as `matrix`, or nil) is passed unchanged to the inner spec for each
    /// part: a part's zeroed entries keep their sensitivity, because the split layer's output error
    /// there (the leak of a non-exact zero) costs loss just as much.
    func quantize(_ matrix: [Float], channels: Int, columns: Int, sensitivity: [Float]? = nil, threads: Int) throws -> Result {
        var part = [UInt8](repeating: 0, count: matrix.count)
        let groups = perChannel ? channels : 1
        let groupSize = perChannel ? columns : matrix.count
        matrix.withUnsafeBufferPointer { w in
            for g in 0..<groups {
                let slice = UnsafeBufferPointer(rebasing: w[g * groupSize..<(g + 1) * groupSize])
                guard !slice.isEmpty else { continue }
                let split = ThreeWaySplit(values: slice)
                for i in 0..<groupSize { part[g * groupSize + i] = UInt8(split.part(of: slice[i])) }
            }
        }
        var values = [Float](repeating: 0, count: matrix.count)
        var metadata = 0
        var payload = 0
        for p in 0..<3 {
            var masked = matrix
            for i in masked.indices where part[i] != UInt8(p) { masked[i] = 0 }
            let (q, bits) = try inner.quantizeChannelMajor(masked, channels: channels, columns: columns,
                                                           sensitivity: sensitivity, threads: threads)
            // Every entry belongs to one part; other parts' dequantized values there are the leak of
            // their zeros (exactly 0 for zero-exact grids), which the split layers also add.
            for i in values.indices { values[i] += q[i] }
            metadata += bits.metadata
            payload = bits.payload
        }
        let idBits = Int((Double(matrix.count) * log2of3).rounded(.up))
        return Result(values: values, compact: StorageBits(payload: payload + idBits, metadata: metadata),
                      dense: StorageBits(payload: 3 * payload, metadata: metadata))
    }

    private var log2of3: Double { 1.584962500721156 }
}
