import Kernels

/// The packed forms of a constant GEMM B operand (a layer weight): the blocked GEMM's panels, the
/// narrow GEMM's column slices or plain rows, each made on first use and kept until `invalidate()`.
///
/// Packing a transposed [out, in] weight costs ~10 % of a batch-256 product and dominates batch-1
/// products, so it is done once. `CompiledGraph.substitute` (which hands the operator a different
/// buffer, e.g. fake-quantized weights) invalidates it; a buffer must not change in place while it
/// is in use (the same contract `substitute` states). One compiled graph runs on one thread at a
/// time, so the cache needs no lock.
final class WeightPackCache: @unchecked Sendable {
    private var packed: PackedMatrix?
    private var narrow: NarrowGemmOperand?
    private var rows: UnsafeMutablePointer<Float>?

    deinit { rows?.deallocate() }

    /// Forgets every form (the weight buffer was substituted).
    func invalidate() {
        packed = nil
        narrow = nil
        rows?.deallocate()
        rows = nil
    }

    /// The packed form of op(B) read from `b`.
    func matrix(for b: UnsafePointer<Float>, ldb: Int, transB: Bool, k: Int, n: Int) -> PackedMatrix {
        if let packed { return packed }
        let fresh = PackedMatrix(b: b, ldb: ldb, transB: transB, k: k, n: n)
        packed = fresh
        return fresh
    }

    /// `alpha · op(B)` in the narrow GEMM's layout (for `narrowGemm`). One operator always asks
    /// with the same `alpha`, so it is not part of the key.
    func narrowOperand(for b: UnsafePointer<Float>, ldb: Int, transB: Bool, k: Int, n: Int, alpha: Float) -> NarrowGemmOperand {
        if let narrow { return narrow }
        let fresh = NarrowGemmOperand(b: b, ldb: ldb, transB: transB, k: k, n: n, alpha: alpha)
        narrow = fresh
        return fresh
    }

    /// op(B) as a row-major [k, n] matrix (for `smallGemm`, whose B is read row by row).
    func rowMajor(for b: UnsafePointer<Float>, ldb: Int, transB: Bool, k: Int, n: Int) -> UnsafePointer<Float> {
        if let rows { return UnsafePointer(rows) }
        let fresh = UnsafeMutablePointer<Float>.allocate(capacity: max(k * n, 1))
        for p in 0..<k {
            for j in 0..<n { fresh[p * n + j] = transB ? b[j * ldb + p] : b[p * ldb + j] }
        }
        rows = fresh
        return UnsafePointer(fresh)
    }
}

/// A constant convolution weight repacked for the convolution kernels (`PackedConvWeights`), kept
/// until `invalidate()` (same contract as `WeightPackCache`). Saves the repack on every pass (~4 us
/// for a 64x64x3x3 layer, 15-20% of its time at batch 1).
final class ConvWeightPackCache: @unchecked Sendable {
    private var packed: PackedConvWeights?

    /// Forgets the packed form (the weight buffer was substituted).
    func invalidate() { packed = nil }

    func packed(for weight: UnsafePointer<Float>, shape: Conv2DShape) -> PackedConvWeights {
        if let packed { return packed }
        let fresh = PackedConvWeights(shape, weight: weight)
        packed = fresh
        return fresh
    }
}
