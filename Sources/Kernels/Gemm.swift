/// What `sgemm` applies to each element of C after `alpha * op(A) * op(B) + beta * C`.
///
/// The bias is added first, then ReLU (`max(x, 0)`). It is fused into the store of the last K
/// block, so it costs no extra pass over C.
public struct GemmEpilogue {
    /// Which dimension of C the bias vector runs along.
    public enum BiasAxis: Sendable {
        /// `bias[i]` is added to every element of row `i`; the bias has `m` elements (conv
        /// output channels when C is `[outC, H*W]`).
        case row
        /// `bias[j]` is added to every element of column `j`; the bias has `n` elements (a dense
        /// layer's output features when C is `[batch, features]`).
        case column
    }

    /// Bias vector, or nil for none. Must stay valid for the duration of the call.
    public var bias: UnsafePointer<Float>?
    /// Dimension the bias runs along (ignored without a bias).
    public var biasAxis: BiasAxis
    /// Apply `max(x, 0)` after the bias (NaN stays NaN).
    public var relu: Bool

    public init(bias: UnsafePointer<Float>? = nil, biasAxis: BiasAxis = .column, relu: Bool = false) {
        self.bias = bias
        self.biasAxis = biasAxis
        self.relu = relu
    }

    /// No bias, no activation.
    public static var none: GemmEpilogue { GemmEpilogue() }

    var rowBias: UnsafePointer<Float>? { biasAxis == .row ? bias : nil }
    var columnBias: UnsafePointer<Float>? { biasAxis == .column ? bias : nil }
}

/// Single-precision GEMM: `C = alpha * op(A) * op(B) + beta * C`, then `epilogue` (bias, ReLU).
///
/// All matrices are row-major. `op(A)` is `m x k`: with `transA == false` element (i, p) is
/// `a[i * lda + p]` (`lda >= k`), with `transA == true` it is `a[p * lda + i]` (A stored `k x m`,
/// `lda >= m`). Likewise `op(B)` is `k x n`: `b[p * ldb + j]` or, transposed, `b[j * ldb + p]`. C is
/// `m x n` with row stride `ldc >= n`. C must not overlap A or B.
///
/// - `beta == 0` means C is write-only: NaN or garbage in C does not propagate (BLAS convention).
/// - `k == 0` or `alpha == 0`: C = beta * C, then the epilogue.
/// - `m == 0` or `n == 0`: nothing happens.
/// - Uses up to `threads` threads (see `Parallel`), fewer when the product is too small to gain.
///   Results do not depend on the thread count (each element is computed by one thread in the
///   same order).
///
/// Accuracy: float32 FMA accumulation in k order within blocks of 256; expect relative error
/// around `sqrt(k) * 6e-8` of the sum of |terms|.
public func sgemm(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, lda: Int, transA: Bool,
    b: UnsafePointer<Float>, ldb: Int, transB: Bool,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    alpha: Float = 1, beta: Float = 0,
    epilogue: GemmEpilogue = .none,
    threads: Int = Parallel.maxThreads
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension")
    precondition(ldc >= n, "sgemm: ldc < n")
    precondition(lda >= (transA ? m : k) && ldb >= (transB ? k : n), "sgemm: leading dimension too small")
    if m == 0 || n == 0 { return }
    if k == 0 || alpha == 0 {
        gemmScaleOnly(m: m, n: n, c: c, ldc: ldc, beta: beta, epilogue: epilogue)
        return
    }
    let opA = MatrixView(a, ld: lda, transposed: transA)
    let opB = MatrixView(b, ld: ldb, transposed: transB)
    if m == 1 {
        // C is one row: y[j] = x . op(B)[:, j] with x = op(A) row 0.
        gemv(
            k: k, n: n, x: opA.base, incx: opA.columnStride, matrix: opB, y: c, incy: 1,
            alpha: alpha, beta: beta, vectorBias: epilogue.columnBias, scalarBias: epilogue.rowBias,
            relu: epilogue.relu, threads: threads)
        return
    }
    if n == 1 {
        // C is one column: C^T = op(B)^T op(A)^T, a vector-matrix product with x = op(B) column 0.
        let transposedA = MatrixView(base: opA.base, rowStride: opA.columnStride, columnStride: opA.rowStride)
        gemv(
            k: k, n: m, x: opB.base, incx: opB.rowStride, matrix: transposedA, y: c, incy: ldc,
            alpha: alpha, beta: beta, vectorBias: epilogue.rowBias, scalarBias: epilogue.columnBias,
            relu: epilogue.relu, threads: threads)
        return
    }
    gemmBlocked(
        m: m, n: n, k: k, a: opA, b: .view(opB), c: c, ldc: ldc, alpha: alpha, beta: beta,
        epilogue: epilogue, threads: threads)
}

/// Where the blocked driver gets B panels from.
enum GemmBSource {
    /// Pack on the fly from this view of op(B).
    case view(MatrixView)
    /// Already packed (see `PackedMatrix`): block `pc` starts at `base + pc * paddedColumns`, the
    /// panel holding column `j` of that block at `+ j * kcOfBlock`.
    case packed(UnsafePointer<Float>, paddedColumns: Int)
}

/// Minimum multiply-adds per thread before the blocked driver uses another thread (~10 µs of work):
/// a fork/join costs ~2 µs while the pool's worker is spinning and 20-50 µs when it has gone to
/// sleep or the other core is busy, so smaller products stay on the calling thread.
let gemmMinMACsPerThread = 1 << 20

/// Splits the product over threads along N (each thread packs all of A, a 1/n overhead) or along M
/// (each packs all of B unless it is prepacked), whichever is larger.
func gemmBlocked(
    m: Int, n: Int, k: Int, a: MatrixView, b: GemmBSource,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float,
    epilogue: GemmEpilogue, threads: Int
) {
    let macs = m * n * k
    var t = max(1, min(threads, macs / gemmMinMACsPerThread))
    if m < GemmBlocking.mr, case .packed = b {
        // Few rows against a prepacked B: bandwidth-bound like a vector product, so split by size
        // of B as `gemv` does.
        t = max(1, min(threads, n * k / gemvMinElementsPerThread))
    }
    if t <= 1 {
        gemmSerial(
            m: m, n: n, k: k, a: a, b: b, bColumn: 0, c: c, ldc: ldc, alpha: alpha, beta: beta,
            rowBias: epilogue.rowBias, columnBias: epilogue.columnBias, relu: epilogue.relu)
        return
    }
    let prepacked: Bool
    if case .packed = b { prepacked = true } else { prepacked = false }
    let panelsN = (n + GemmBlocking.nr - 1) / GemmBlocking.nr
    let panelsM = (m + GemmBlocking.mr - 1) / GemmBlocking.mr
    let splitN = prepacked ? (panelsN >= t && panelsN * GemmBlocking.nr >= 2 * m) : n >= m
    if splitN && panelsN >= 2 {
        let parts = min(t, panelsN)
        Parallel.forEach(parts, threads: parts) { part in
            let j0 = panelsN * part / parts * GemmBlocking.nr
            let j1 = min(n, panelsN * (part + 1) / parts * GemmBlocking.nr)
            let bPart: GemmBSource
            switch b {
            case .view(let v): bPart = .view(v.offset(row: 0, column: j0))
            case .packed: bPart = b
            }
            gemmSerial(
                m: m, n: j1 - j0, k: k, a: a, b: bPart, bColumn: j0, c: c + j0, ldc: ldc,
                alpha: alpha, beta: beta, rowBias: epilogue.rowBias, columnBias: epilogue.columnBias.map { $0 + j0 },
                relu: epilogue.relu)
        }
    } else {
        let parts = min(t, panelsM)
        Parallel.forEach(parts, threads: parts) { part in
            let i0 = panelsM * part / parts * GemmBlocking.mr
            let i1 = min(m, panelsM * (part + 1) / parts * GemmBlocking.mr)
            gemmSerial(
                m: i1 - i0, n: n, k: k, a: a.offset(row: i0, column: 0), b: b, bColumn: 0,
                c: c + i0 * ldc, ldc: ldc, alpha: alpha, beta: beta,
                rowBias: epilogue.rowBias.map { $0 + i0 }, columnBias: epilogue.columnBias,
                relu: epilogue.relu)
        }
    }
}

/// The cache-blocked loop nest on one thread (GotoBLAS order: N blocks, K blocks, M blocks, then
/// one A micro-panel held in L1 against every B micro-panel of the block held in L2).
/// `bColumn` is the first column of this call's slice within a prepacked B (0 for `.view`).
func gemmSerial(
    m: Int, n: Int, k: Int, a: MatrixView, b: GemmBSource, bColumn: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float,
    rowBias: UnsafePointer<Float>?, columnBias: UnsafePointer<Float>?, relu: Bool
) {
    let mr = GemmBlocking.mr
    let nr = GemmBlocking.nr
    let scratch = GemmScratch.current
    var jc = 0
    while jc < n {
        let nc = min(GemmBlocking.nc, n - jc)
        var pc = 0
        while pc < k {
            let kc = GemmBlocking.depth(k, from: pc)
            let first = pc == 0
            let last = pc + kc == k
            let bBlock: UnsafePointer<Float>
            switch b {
            case .view(let v):
                packB(v.offset(row: pc, column: jc), kc: kc, nc: nc, into: scratch.b)
                bBlock = UnsafePointer(scratch.b)
            case .packed(let base, let paddedColumns):
                bBlock = base + pc * paddedColumns + (bColumn + jc) * kc
            }
            let store = TileStore(
                alpha: alpha, beta: first ? beta : 1, accumulate: !first || beta != 0,
                rowBias: last ? rowBias : nil, columnBias: last ? columnBias : nil, relu: last && relu)
            var ic = 0
            while ic < m {
                let mc = min(GemmBlocking.mc, m - ic)
                packA(a.offset(row: ic, column: pc), mc: mc, kc: kc, into: scratch.a)
                var ir = 0
                while ir < mc {
                    let rows = min(mr, mc - ir)
                    let ap = UnsafePointer(scratch.a + ir * kc)
                    var s = store
                    s.rowBias = store.rowBias.map { $0 + ic + ir }
                    let cRow = c + (ic + ir) * ldc + jc
                    var jr = 0
                    while jr < nc {
                        let cols = min(nr, nc - jr)
                        let bp = bBlock + jr * kc
                        s.columnBias = store.columnBias.map { $0 + jc + jr }
                        if cols == nr {
                            gemmMicroKernel(mr: rows, kc: kc, a: ap, b: bp, c: cRow + jr, ldc: ldc, s)
                        } else {
                            gemmMicroKernel(mr: rows, kc: kc, a: ap, b: bp, c: scratch.tile, ldc: nr, .raw)
                            finishEdgeTile(scratch.tile, rows: rows, columns: cols, c: cRow + jr, ldc: ldc, s)
                        }
                        jr += nr
                    }
                    ir += mr
                }
                ic += mc
            }
            pc += kc
        }
        jc += nc
    }
}

/// Applies a tile's store to the valid `rows x columns` corner of a raw 12 x 32 product tile.
func finishEdgeTile(
    _ tile: UnsafePointer<Float>, rows: Int, columns: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
    _ s: TileStore
) {
    for r in 0..<rows {
        let t = tile + r * GemmBlocking.nr
        let cr = c + r * ldc
        let rb: Float = s.rowBias?[r] ?? 0
        for j in 0..<columns {
            var v = t[j] * s.alpha
            if s.accumulate { v = v + s.beta * cr[j] }
            v += rb
            if let cb = s.columnBias { v += cb[j] }
            if s.relu { v = max(v, 0) }
            cr[j] = v
        }
    }
}

/// `C = beta * C` (C written, not read, when beta == 0), then bias and ReLU.
func gemmScaleOnly(m: Int, n: Int, c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, epilogue: GemmEpilogue) {
    for i in 0..<m {
        let row = c + i * ldc
        let rb: Float = epilogue.rowBias?[i] ?? 0
        for j in 0..<n {
            var v: Float = beta == 0 ? 0 : beta * row[j]
            v += rb
            if let cb = epilogue.columnBias { v += cb[j] }
            if epilogue.relu { v = max(v, 0) }
            row[j] = v
        }
    }
}
