/// `C = alpha · A · op(B) + beta · C` for tall, narrow products: many rows of A, few columns of B
/// (the first layers of an MLP, a transformer's linear layers, the tangent passes: M = batch or
/// probes x samples x tokens, N up to 256).
///
/// The blocked `sgemm` packs each 12-row panel of A before multiplying it; with N = 64 every
/// packed element of A is used for only 64 multiply-adds, so the packing (a strided transpose,
/// about as slow per element as 4 vector FMAs) costs as much as the product. Here A is read in
/// place instead: B (times alpha, transposed when `transB`) is copied once into a dense scratch
/// (`NarrowGemmOperand`; keep one for a constant weight to skip the copy on every call), and each
/// tile of 6 rows x 64 columns of C accumulates in 24 registers, per k step 4 vector loads of B, 6
/// broadcasts from the 6 rows of A and 24 FMAs. Rows are split over threads.
///
/// Requirements (else use `sgemm`): `narrowGemmApplies(n:k:)`, A row-major ([m, k] with row stride
/// `lda`), C row-major with row stride `ldc`, no overlap of C with A or B. Rounding: one FMA per
/// term in order of k within each K block (`narrowGemmDepth`; one block for k <= 512), each block's
/// sum added to C once (the first block to beta·C, or written alone when beta = 0: C is then only
/// written), then `columnBias[j]`, then ReLU (as `sgemm`'s epilogue), with alpha folded into the
/// copy of B (exact for alpha = 1).
public func narrowGemm(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, transB: Bool,
    c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0,
    columnBias: UnsafePointer<Float>? = nil, relu: Bool = false, threads: Int = Parallel.maxThreads
) {
    precondition(narrowGemmApplies(n: n, k: k), "narrowGemm: n must be a positive multiple of 16 up to \(narrowGemmMaxN)")
    guard m > 0 else { return }
    let operand = NarrowGemmOperand(b: b, ldb: ldb, transB: transB, k: k, n: n, alpha: alpha)
    narrowGemm(m: m, a: a, lda: lda, b: operand, c: c, ldc: ldc, beta: beta, columnBias: columnBias, relu: relu,
               threads: threads)
}

/// `C = A · B + beta · C`, then `columnBias` and ReLU, with B already copied into the narrow GEMM's
/// layout (`b.k x b.n`, alpha folded in); see the unpacked `narrowGemm` for the method, the
/// requirements on A and C and the rounding. Results equal the unpacked call's bit for bit.
public func narrowGemm(
    m: Int, a: UnsafePointer<Float>, lda: Int, b: NarrowGemmOperand,
    c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0,
    columnBias: UnsafePointer<Float>? = nil, relu: Bool = false, threads: Int = Parallel.maxThreads
) {
    let n = b.n, k = b.k
    precondition(m >= 0 && lda >= k && ldc >= n, "narrowGemm: bad dimensions")
    guard m > 0 else { return }
    let blocks = (m + 5) / 6
    let parts = max(1, min(threads, blocks, m * n * k / narrowGemmMinMACsPerThread))
    let depthBlocks = (k + narrowGemmDepth - 1) / narrowGemmDepth
    let depth = (k + depthBlocks - 1) / depthBlocks
    withExtendedLifetime(b) {
        let storage = UnsafePointer(b.storage)
        Parallel.forEach(parts, threads: parts) { part in
            let first = blocks * part / parts * 6, last = min(m, blocks * (part + 1) / parts * 6)
            var slice = storage
            for j0 in stride(from: 0, to: n, by: 64) {
                let vectors = min(64, n - j0) / 16
                let width = vectors * 16
                // K blocks: the slice of B read by every tile of a block stays in L2 (<= 512 x 64
                // floats), C takes each block's sums; only the last block applies bias and ReLU.
                var p0 = 0
                while p0 < k {
                    let kc = min(depth, k - p0)
                    let lastBlock = p0 + kc == k
                    let s = TileEpilogue(beta: p0 == 0 ? beta : 1, bias: lastBlock ? columnBias.map { $0 + j0 } : nil,
                                         relu: lastBlock && relu)
                    let bBlock = slice + p0 * width
                    var i = first
                    while i < last {
                        let rows = min(6, last - i)
                        let ai = a + i * lda + p0, ci = c + i * ldc + j0
                        switch (rows, vectors) {
                        case (6, 4): narrowTile(rows: 6, vectors: 4, k: kc, a: ai, lda: lda, b: bBlock, c: ci, ldc: ldc, s)
                        case (6, 3): narrowTile(rows: 6, vectors: 3, k: kc, a: ai, lda: lda, b: bBlock, c: ci, ldc: ldc, s)
                        case (6, 2): narrowTile(rows: 6, vectors: 2, k: kc, a: ai, lda: lda, b: bBlock, c: ci, ldc: ldc, s)
                        case (6, _): narrowTile(rows: 6, vectors: 1, k: kc, a: ai, lda: lda, b: bBlock, c: ci, ldc: ldc, s)
                        default: narrowTile(rows: rows, vectors: vectors, k: kc, a: ai, lda: lda, b: bBlock, c: ci, ldc: ldc, s)
                        }
                        i += 6
                    }
                    p0 += kc
                }
                slice += k * width
            }
        }
    }
}

/// The B operand of `narrowGemm` (`alpha · op(B)`, `k x n`) copied into the layout its tiles read:
/// column slices of 64 (the last one 16, 32 or 48 wide) stored one after another, each `[k][width]`
/// row-major, so a tile's K block of B is one contiguous run. Immutable after init and safe to share
/// across threads (`@unchecked Sendable` only because it owns a raw allocation). For a constant
/// weight, keep one (the executor's `WeightPackCache` does): the copy of a transposed `[out, in]`
/// weight is a strided gather that costs ~10% of a batch-256 product, and a fresh buffer of more
/// than 128 KiB is a fresh mmap with its page faults on every call.
public final class NarrowGemmOperand: @unchecked Sendable {
    /// Rows of op(B) (the product's depth).
    public let k: Int
    /// Columns of op(B).
    public let n: Int
    let storage: UnsafeMutablePointer<Float>

    /// Copies `alpha · op(B)`: with `transB == false` element (p, j) is `b[p * ldb + j]` (`ldb >= n`),
    /// with `transB == true` it is `b[j * ldb + p]` (`ldb >= k`). Requires `narrowGemmApplies(n:k:)`.
    /// `b` may be freed after.
    public init(b: UnsafePointer<Float>, ldb: Int, transB: Bool, k: Int, n: Int, alpha: Float = 1) {
        precondition(narrowGemmApplies(n: n, k: k), "NarrowGemmOperand: n must be a positive multiple of 16 up to \(narrowGemmMaxN)")
        precondition(ldb >= (transB ? k : n), "NarrowGemmOperand: ldb too small")
        self.k = k
        self.n = n
        let raw = UnsafeMutableRawPointer.allocate(byteCount: k * n * MemoryLayout<Float>.stride, alignment: 64)
        storage = raw.bindMemory(to: Float.self, capacity: k * n)
        var offset = 0
        for j0 in stride(from: 0, to: n, by: 64) {
            let width = min(64, n - j0)
            if transB {
                // Each column of op(B) is a contiguous source row: read it once, write with stride `width`.
                for j in 0..<width {
                    let source = b + (j0 + j) * ldb
                    var out = storage + offset + j
                    for p in 0..<k {
                        out.pointee = alpha * source[p]
                        out += width
                    }
                }
            } else {
                for p in 0..<k {
                    let source = b + p * ldb + j0, row = storage + offset + p * width
                    for j in 0..<width { row[j] = alpha * source[j] }
                }
            }
            offset += k * width
        }
    }

    deinit { storage.deallocate() }
}

/// Largest N `narrowGemm` takes (its scratch copy of B is k x N floats).
public let narrowGemmMaxN = 256

/// Whether `narrowGemm` handles the shape: N a multiple of 16 up to `narrowGemmMaxN`, K >= 1 (deeper
/// products than `narrowGemmDepth` run in K blocks).
public func narrowGemmApplies(n: Int, k: Int) -> Bool {
    n >= 16 && n <= narrowGemmMaxN && n % 16 == 0 && k >= 1
}

/// Largest K block of `narrowGemm`: K is split into equal blocks of at most this many rows (784 =
/// 2 x 392), so the 64-column slice of B that every tile of a block reads (<= 128 KiB) stays in L2
/// beside the thread's rows of A.
public let narrowGemmDepth = 512

/// What happens to a tile's sums when they are stored: `beta·C` added, the column bias (offset to
/// the tile's slice) added, ReLU (NaN stays NaN: `x < 0` is false for it).
private struct TileEpilogue {
    let beta: Float
    let bias: UnsafePointer<Float>?
    let relu: Bool
}

/// Whether a product of `m` rows should take `narrowGemm` rather than `sgemm` when B is copied on
/// every call: the shape applies, K fits one block (<= `narrowGemmDepth`, the range it was measured
/// on) and there are enough rows (48: eight 6-row tiles) for reading A in place to beat packing it.
public func narrowGemmPaysOff(m: Int, n: Int, k: Int) -> Bool {
    m >= 48 && k <= narrowGemmDepth && narrowGemmApplies(n: n, k: k)
}

/// Whether a product of `m` rows against a constant B kept as a `NarrowGemmOperand` should take
/// `narrowGemm` rather than `sgemm` with a prepacked B: as `narrowGemmPaysOff`, but deeper products
/// too (an MLP's 784-input first layer at batch 256: packing A was ~10% of its time).
public func narrowGemmPaysOffWithKeptOperand(m: Int, n: Int, k: Int) -> Bool {
    m >= 48 && narrowGemmApplies(n: n, k: k)
}

/// Below this many multiply-adds per thread a second thread costs more than it saves.
private let narrowGemmMinMACsPerThread = 1 << 16

/// One tile: `rows` (1...6) rows x `vectors` (1...4) 16-column vectors of C = A·B + beta·C, with B
/// a dense [k][vectors·16] slice.
@inline(__always)
private func narrowTile(
    rows: Int, vectors: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, _ epilogue: TileEpilogue
) {
    let width = vectors * 16
    // acc[r][v], unrolled by the compiler for literal `rows` and `vectors`.
    var acc = (
        (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>()),
        (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>()),
        (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>()),
        (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>()),
        (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>()),
        (SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>(), SIMD16<Float>())
    )
    @inline(__always) func step(_ row: inout (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>), _ av: Float,
                                _ b0: SIMD16<Float>, _ b1: SIMD16<Float>, _ b2: SIMD16<Float>, _ b3: SIMD16<Float>) {
        let x = SIMD16<Float>(repeating: av)
        row.0.addProduct(x, b0)
        if vectors > 1 { row.1.addProduct(x, b1) }
        if vectors > 2 { row.2.addProduct(x, b2) }
        if vectors > 3 { row.3.addProduct(x, b3) }
    }
    for p in 0..<k {
        let bp = b + p * width
        let b0 = loadLanes(bp)
        let b1 = vectors > 1 ? loadLanes(bp + 16) : SIMD16<Float>()
        let b2 = vectors > 2 ? loadLanes(bp + 32) : SIMD16<Float>()
        let b3 = vectors > 3 ? loadLanes(bp + 48) : SIMD16<Float>()
        step(&acc.0, a[p], b0, b1, b2, b3)
        if rows > 1 { step(&acc.1, a[lda + p], b0, b1, b2, b3) }
        if rows > 2 { step(&acc.2, a[2 * lda + p], b0, b1, b2, b3) }
        if rows > 3 { step(&acc.3, a[3 * lda + p], b0, b1, b2, b3) }
        if rows > 4 { step(&acc.4, a[4 * lda + p], b0, b1, b2, b3) }
        if rows > 5 { step(&acc.5, a[5 * lda + p], b0, b1, b2, b3) }
    }
    storeTileRow(acc.0, c, vectors: vectors, epilogue)
    if rows > 1 { storeTileRow(acc.1, c + ldc, vectors: vectors, epilogue) }
    if rows > 2 { storeTileRow(acc.2, c + 2 * ldc, vectors: vectors, epilogue) }
    if rows > 3 { storeTileRow(acc.3, c + 3 * ldc, vectors: vectors, epilogue) }
    if rows > 4 { storeTileRow(acc.4, c + 4 * ldc, vectors: vectors, epilogue) }
    if rows > 5 { storeTileRow(acc.5, c + 5 * ldc, vectors: vectors, epilogue) }
}

/// Stores the first `vectors` sums of one tile row at `row` through the epilogue. (A top-level
/// function: as a nested one capturing the epilogue it was outlined, and cost 6% of a ViT HVP.)
@inline(__always)
private func storeTileRow(_ sums: (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>), _ row: UnsafeMutablePointer<Float>,
                          vectors: Int, _ epilogue: TileEpilogue) {
    storeTileVector(sums.0, row, column: 0, epilogue)
    if vectors > 1 { storeTileVector(sums.1, row + 16, column: 16, epilogue) }
    if vectors > 2 { storeTileVector(sums.2, row + 32, column: 32, epilogue) }
    if vectors > 3 { storeTileVector(sums.3, row + 48, column: 48, epilogue) }
}

/// `p[0..<16] = relu?(sums + beta·p + bias[column...])`, `column` counted from the tile's first
/// column (where the epilogue's bias pointer starts).
@inline(__always)
private func storeTileVector(_ sums: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, column: Int, _ epilogue: TileEpilogue) {
    var x = sums
    if epilogue.beta != 0 { x.addProduct(SIMD16(repeating: epilogue.beta), loadLanes(p)) }
    if let bias = epilogue.bias { x += loadLanes(bias + column) }
    if epilogue.relu { x.replace(with: SIMD16(repeating: 0), where: x .< 0) }
    storeLanes(x, p)
}
