/// A GEMM B operand (`k x n`, e.g. a dense layer's weight) packed once into the micro-kernel's
/// panel layout, for repeated products with different A (model weights are constant).
///
/// Measured on this machine (Zen 5, m = 256): packing B on every call costs ~2% for a row-major
/// `[in, out]` weight and ~10% for the usual transposed `[out, in]` one (a strided gather), and for
/// batch-1 products (m = 1) the packed layout streams the weight sequentially. Conv weights are the
/// A operand of their GEMMs and are packed per call at ~0.2% cost, so there is no packed-A form.
///
/// Layout: K blocks of `GemmBlocking.depth(k, from:)` rows (at most `GemmBlocking.kc`); block `p0` starts at `p0 * paddedColumns` and holds
/// `ceil(n / 32)` panels of `kc x 32` (k-major), zero-padded to `paddedColumns = roundUp(n, 32)`.
/// Immutable after init, so sharing across threads is safe (`@unchecked Sendable` only because it
/// owns a raw allocation).
public final class PackedMatrix: @unchecked Sendable {
    /// Rows of op(B) (the GEMM depth).
    public let k: Int
    /// Columns of op(B).
    public let n: Int
    let paddedColumns: Int
    let storage: UnsafeMutablePointer<Float>

    /// Packs op(B): with `transB == false` element (p, j) is `b[p * ldb + j]` (`ldb >= n`), with
    /// `transB == true` it is `b[j * ldb + p]` (`ldb >= k`). `k, n >= 0`. Copies; `b` may be freed after.
    public init(b: UnsafePointer<Float>, ldb: Int, transB: Bool, k: Int, n: Int) {
        precondition(k >= 0 && n >= 0 && ldb >= (transB ? k : n), "PackedMatrix: bad dimensions")
        self.k = k
        self.n = n
        paddedColumns = roundUp(n, GemmBlocking.nr)
        let count = max(1, k * paddedColumns)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        storage = raw.bindMemory(to: Float.self, capacity: count)
        let view = MatrixView(b, ld: ldb, transposed: transB)
        var p0 = 0
        while p0 < k && n > 0 {
            let kc = GemmBlocking.depth(k, from: p0)
            packB(view.offset(row: p0, column: 0), kc: kc, nc: n, into: storage + p0 * paddedColumns)
            p0 += kc
        }
    }

    deinit { storage.deallocate() }
}

/// `C = alpha * op(A) * B + beta * C`, then `epilogue`, with B prepacked (`packedB.k x packedB.n`;
/// the product is `m x packedB.n`). Same conventions, edge cases and accuracy as the unpacked
/// `sgemm`; results equal the unpacked call bit for bit when `m >= 2` and `n >= 2` (with one row
/// or column the unpacked call takes a vector path with another summation order).
public func sgemm(
    m: Int, a: UnsafePointer<Float>, lda: Int, transA: Bool, packedB: PackedMatrix,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0,
    epilogue: GemmEpilogue = .none, threads: Int = Parallel.maxThreads
) {
    let n = packedB.n
    let k = packedB.k
    precondition(m >= 0 && ldc >= n && lda >= (transA ? m : k), "sgemm(packedB): bad dimensions")
    if m == 0 || n == 0 { return }
    if k == 0 || alpha == 0 {
        gemmScaleOnly(m: m, n: n, c: c, ldc: ldc, beta: beta, epilogue: epilogue)
        return
    }
    withExtendedLifetime(packedB) {
        if m == 1 {
            packedGemv(
                x: a, incx: transA ? lda : 1, packed: packedB, y: c, alpha: alpha, beta: beta,
                epilogue: epilogue, threads: threads)
            return
        }
        gemmBlocked(
            m: m, n: n, k: k, a: MatrixView(a, ld: lda, transposed: transA),
            b: .packed(UnsafePointer(packedB.storage), paddedColumns: packedB.paddedColumns),
            c: c, ldc: ldc, alpha: alpha, beta: beta, epilogue: epilogue, threads: threads)
    }
}

/// One row times a prepacked B: `y[j] = alpha * sum_p x[p * incx] * B[p, j] + beta * y[j]`, then the
/// epilogue (row bias = `bias[0]`). Four panels (128 columns) at a time keep 8 independent FMA
/// chains in flight while the packed weight streams through sequentially; the mr = 1 micro-kernel
/// would have only 2 and wait on FMA latency.
private func packedGemv(
    x: UnsafePointer<Float>, incx: Int, packed: PackedMatrix, y: UnsafeMutablePointer<Float>,
    alpha: Float, beta: Float, epilogue: GemmEpilogue, threads: Int
) {
    let k = packed.k
    let n = packed.n
    if incx != 1 {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { buffer in
            for p in 0..<k { buffer[p] = x[p * incx] }
            packedGemv(
                x: buffer.baseAddress!, incx: 1, packed: packed, y: y, alpha: alpha, beta: beta,
                epilogue: epilogue, threads: threads)
        }
        return
    }
    let nr = GemmBlocking.nr
    let groups = (n + 4 * nr - 1) / (4 * nr)
    let t = max(1, min(threads, groups, k * n / gemvMinElementsPerThread))
    let base = UnsafePointer(packed.storage)
    let padded = packed.paddedColumns
    Parallel.forEach(t, threads: t) { part in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * nr) { tileBuffer in
            let tile = tileBuffer.baseAddress!
            for g in (groups * part / t)..<(groups * (part + 1) / t) {
                let j0 = g * 4 * nr
                let panels = min(4, (n - j0 + nr - 1) / nr)
                var acc = (Vec(), Vec(), Vec(), Vec(), Vec(), Vec(), Vec(), Vec())
                var p0 = 0
                while p0 < k {
                    let kc = GemmBlocking.depth(k, from: p0)
                    let block = base + p0 * padded + j0 * kc
                    // Panels past the last one alias panel 0; their sums are discarded below.
                    let b0 = block
                    let b1 = panels > 1 ? block + kc * nr : block
                    let b2 = panels > 2 ? block + 2 * kc * nr : block
                    let b3 = panels > 3 ? block + 3 * kc * nr : block
                    for p in 0..<kc {
                        let xp = Vec(repeating: x[p0 + p])
                        let o = p * nr
                        acc.0 = acc.0.addingProduct(xp, UnsafeRawPointer(b0 + o).loadUnaligned(as: Vec.self))
                        acc.1 = acc.1.addingProduct(xp, UnsafeRawPointer(b0 + o + 16).loadUnaligned(as: Vec.self))
                        acc.2 = acc.2.addingProduct(xp, UnsafeRawPointer(b1 + o).loadUnaligned(as: Vec.self))
                        acc.3 = acc.3.addingProduct(xp, UnsafeRawPointer(b1 + o + 16).loadUnaligned(as: Vec.self))
                        acc.4 = acc.4.addingProduct(xp, UnsafeRawPointer(b2 + o).loadUnaligned(as: Vec.self))
                        acc.5 = acc.5.addingProduct(xp, UnsafeRawPointer(b2 + o + 16).loadUnaligned(as: Vec.self))
                        acc.6 = acc.6.addingProduct(xp, UnsafeRawPointer(b3 + o).loadUnaligned(as: Vec.self))
                        acc.7 = acc.7.addingProduct(xp, UnsafeRawPointer(b3 + o + 16).loadUnaligned(as: Vec.self))
                    }
                    p0 += kc
                }
                let raw = UnsafeMutableRawPointer(tile)
                raw.storeBytes(of: acc.0, toByteOffset: 0, as: Vec.self)
                raw.storeBytes(of: acc.1, toByteOffset: 64, as: Vec.self)
                raw.storeBytes(of: acc.2, toByteOffset: 128, as: Vec.self)
                raw.storeBytes(of: acc.3, toByteOffset: 192, as: Vec.self)
                raw.storeBytes(of: acc.4, toByteOffset: 256, as: Vec.self)
                raw.storeBytes(of: acc.5, toByteOffset: 320, as: Vec.self)
                raw.storeBytes(of: acc.6, toByteOffset: 384, as: Vec.self)
                raw.storeBytes(of: acc.7, toByteOffset: 448, as: Vec.self)
                let rowBias: Float = epilogue.rowBias?[0] ?? 0
                for q in 0..<min(4 * nr, n - j0) {
                    var v = tile[q] * alpha
                    if beta != 0 { v += beta * y[j0 + q] }
                    v += rowBias
                    if let cb = epilogue.columnBias { v += cb[j0 + q] }
                    if epilogue.relu { v = max(v, 0) }
                    y[j0 + q] = v
                }
            }
        }
    }
}
