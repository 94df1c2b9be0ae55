/// `C += op(A) · op(B)` for one small matrix product, as the derivative passes of batched
/// products (attention scores and values: 17x16x17 per head) need it: A stored [m, k] (or [k, m]
/// when `transA`), B stored [k, n] (or [n, k] when `transB`), C [m, n], all row-major and dense.
///
/// At these sizes the packing of the blocked GEMM costs more than the product, and the naive loops
/// do not vectorise (the transposed-B one is a reduction). Here 4 rows x 2 vectors of C accumulate
/// at a time: per k step 2 vector loads of B, 4 broadcasts of A and 8 FMAs. B and C are used in
/// place when N is a multiple of 16 and B is not transposed; otherwise B is copied into a scratch of
/// `k` rows padded to whole vectors (transposed when `transB`) and C's rows into a padded tile.
/// Rounding: one FMA per term in order of k (as `sgemm`).
/// Products with more than 2^18 multiply-adds go to `sgemm` (single-threaded).
public func smallProductAccumulate(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, transA: Bool, b: UnsafePointer<Float>, transB: Bool,
    c: UnsafeMutablePointer<Float>
) {
    guard m > 0, n > 0, k > 0 else { return }
    guard m * n * k <= 1 << 18 else {
        sgemm(m: m, n: n, k: k, a: a, lda: transA ? m : k, transA: transA, b: b, ldb: transB ? k : n, transB: transB,
              c: c, ldc: n, alpha: 1, beta: 1, threads: 1)
        return
    }
    let lda = transA ? 1 : k, strideP = transA ? m : 1
    if !transB && n % 16 == 0 {
        // Whole vectors already: B and C are used in place.
        productTiles(m: m, width: n, k: k, a: a, lda: lda, strideP: strideP, b: b, c: c)
        return
    }
    let width = (n + 15) / 16 * 16
    withUnsafeTemporaryAllocation(of: Float.self, capacity: (k + m) * width) { scratch in
        let bp = scratch.baseAddress!, cp = bp + k * width
        for p in 0..<k {
            let row = bp + p * width
            if transB {
                for j in 0..<n { row[j] = b[j * k + p] }
            } else {
                row.update(from: b + p * n, count: n)
            }
            for j in n..<width { row[j] = 0 }
        }
        for i in 0..<m {
            let row = cp + i * width
            row.update(from: c + i * n, count: n)
            for j in n..<width { row[j] = 0 }
        }
        productTiles(m: m, width: width, k: k, a: a, lda: lda, strideP: strideP, b: bp, c: cp)
        for i in 0..<m { (c + i * n).update(from: cp + i * width, count: n) }
    }
}

/// C[m, width] += A·B[k, width] (`width` a multiple of 16, rows `width` apart) in 4-row tiles of 1
/// or 2 vectors.
@inline(__always)
private func productTiles(m: Int, width: Int, k: Int, a: UnsafePointer<Float>, lda: Int, strideP: Int,
                          b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
    var j = 0
    while j < width {
        let vectors = width - j >= 32 ? 2 : 1
        var i = 0
        while i < m {
            let rows = min(4, m - i), ai = a + i * lda, ci = c + i * width + j
            // Literal tile sizes, so that each call is compiled without the size tests.
            switch (rows, vectors) {
            case (4, 2): productTile(rows: 4, vectors: 2, k: k, a: ai, lda: lda, strideP: strideP, b: b + j, ldb: width, c: ci, ldc: width)
            case (4, _): productTile(rows: 4, vectors: 1, k: k, a: ai, lda: lda, strideP: strideP, b: b + j, ldb: width, c: ci, ldc: width)
            case (_, 2): productTile(rows: rows, vectors: 2, k: k, a: ai, lda: lda, strideP: strideP, b: b + j, ldb: width, c: ci, ldc: width)
            default: productTile(rows: rows, vectors: 1, k: k, a: ai, lda: lda, strideP: strideP, b: b + j, ldb: width, c: ci, ldc: width)
            }
            i += 4
        }
        j += vectors * 16
    }
}

/// `rows` (1...4) rows x `vectors` (1 or 2) vectors of C += A·B. A(r, p) is at
/// `a[r * lda + p * strideP]`; B and C rows are `ldb` / `ldc` apart and readable in whole vectors.
@inline(__always)
private func productTile(
    rows: Int, vectors: Int, k: Int, a: UnsafePointer<Float>, lda: Int, strideP: Int,
    b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    c00 = loadLanes(c)
    if vectors == 2 { c01 = loadLanes(c + 16) }
    if rows > 1 { c10 = loadLanes(c + ldc); if vectors == 2 { c11 = loadLanes(c + ldc + 16) } }
    if rows > 2 { c20 = loadLanes(c + 2 * ldc); if vectors == 2 { c21 = loadLanes(c + 2 * ldc + 16) } }
    if rows > 3 { c30 = loadLanes(c + 3 * ldc); if vectors == 2 { c31 = loadLanes(c + 3 * ldc + 16) } }
    for p in 0..<k {
        let b0 = loadLanes(b + p * ldb)
        let b1 = vectors == 2 ? loadLanes(b + p * ldb + 16) : SIMD16<Float>()
        let ap = a + p * strideP
        let a0 = SIMD16<Float>(repeating: ap[0])
        c00.addProduct(a0, b0)
        if vectors == 2 { c01.addProduct(a0, b1) }
        if rows > 1 {
            let a1 = SIMD16<Float>(repeating: ap[lda])
            c10.addProduct(a1, b0)
            if vectors == 2 { c11.addProduct(a1, b1) }
        }
        if rows > 2 {
            let a2 = SIMD16<Float>(repeating: ap[2 * lda])
            c20.addProduct(a2, b0)
            if vectors == 2 { c21.addProduct(a2, b1) }
        }
        if rows > 3 {
            let a3 = SIMD16<Float>(repeating: ap[3 * lda])
            c30.addProduct(a3, b0)
            if vectors == 2 { c31.addProduct(a3, b1) }
        }
    }
    storeLanes(c00, c)
    if vectors == 2 { storeLanes(c01, c + 16) }
    if rows > 1 { storeLanes(c10, c + ldc); if vectors == 2 { storeLanes(c11, c + ldc + 16) } }
    if rows > 2 { storeLanes(c20, c + 2 * ldc); if vectors == 2 { storeLanes(c21, c + 2 * ldc + 16) } }
    if rows > 3 { storeLanes(c30, c + 3 * ldc); if vectors == 2 { storeLanes(c31, c + 3 * ldc + 16) } }
}
