/// `C += op(A) · op(B)` for one small matrix product, as the derivative passes of batched
/// products (attention scores and values: 17x16x17 per head) need it: A stored [m, k] (or [k, m]
/// when `transA`), B stored [k, n] (or [n, k] when `transB`), C [m, n], all row-major and dense.
///
/// At these sizes the packing of the blocked GEMM costs more than the product, and the naive loops
/// do not vectorise (the transposed-B one is a reduction). The whole 16-column vectors of C are
/// done in tiles of 4 rows x 1 or 2 vectors, in place in C: per k step 1-2 vector loads of B, 4
/// broadcasts of A and 4-8 FMAs; B is used in place, or transposed into a scratch (16x16 register
/// transposes) when `transB`. The columns past the last whole vector (attention's 17th) are done
/// one at a time, 16 rows to a vector (A transposed into a scratch unless `transA`), when that is
/// cheaper than padding B and C to whole vectors, as it is for a narrow remainder; otherwise the
/// whole product runs on copies of B and C padded to whole vectors.
/// Rounding: one FMA per term in order of k, starting from C (as `sgemm`).
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
    let body = n / 16 * 16, tail = n - body
    // Rough instruction counts of the two ways to do the remainder columns: one at a time (vector
    // FMAs for whole 16-row blocks, scalar ones for the rest, C's column gathered and scattered,
    // A transposed for the blocks unless transA), or padded (a 4-row tile per k step and row
    // quartet, plus copying B and C in and out).
    let rowBlocks = m / 16, leftoverRows = m % 16
    let columnCost = tail * (k * (rowBlocks + leftoverRows) + 2 * m) + (transA ? 0 : k * rowBlocks * 4)
    let paddedCost = k * ((m + 3) / 4) + 2 * (k + 2 * m) * ((n + 15) / 16)
    if tail > 0 && columnCost > paddedCost {
        paddedProduct(m: m, n: n, k: k, a: a, lda: lda, strideP: strideP, b: b, transB: transB, c: c)
        return
    }
    if body > 0 {
        if transB {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: k * body) { scratch in
                let bp = scratch.baseAddress!
                // Stored rows 0..<body of B ([n, k]) are op(B)'s first `body` columns.
                transpose(rows: body, cols: k, b, ld: k, bp, ldDst: body)
                productTiles(m: m, width: body, k: k, a: a, lda: lda, strideP: strideP, b: bp, ldb: body, c: c, ldc: n)
            }
        } else {
            productTiles(m: m, width: body, k: k, a: a, lda: lda, strideP: strideP, b: b, ldb: n, c: c, ldc: n)
        }
    }
    if tail > 0 {
        if transA || rowBlocks == 0 {
            // A stored [k, m]: its rows are already op(A)'s columns.
            remainderColumns(m: m, n: n, k: k, from: body, a: a, lda: lda, strideP: strideP, aT: a, ldaT: m, b: b,
                             transB: transB, c: c)
        } else {
            let blockRows = rowBlocks * 16
            withUnsafeTemporaryAllocation(of: Float.self, capacity: k * blockRows) { scratch in
                let aT = scratch.baseAddress!
                transpose(rows: blockRows, cols: k, a, ld: k, aT, ldDst: blockRows)
                remainderColumns(m: m, n: n, k: k, from: body, a: a, lda: lda, strideP: strideP, aT: aT, ldaT: blockRows,
                                 b: b, transB: transB, c: c)
            }
        }
    }
}

/// Columns `from..<n` of C += op(A)·op(B), one at a time: 16 rows to a vector from `aT` (op(A)
/// transposed, [k, ≥ 16·(m / 16)], rows `ldaT` apart), the rows past the last whole block with
/// scalar FMAs from A itself (A(i, p) at `a[i * lda + p * strideP]`).
@inline(__always)
private func remainderColumns(
    m: Int, n: Int, k: Int, from: Int, a: UnsafePointer<Float>, lda: Int, strideP: Int,
    aT: UnsafePointer<Float>, ldaT: Int, b: UnsafePointer<Float>, transB: Bool, c: UnsafeMutablePointer<Float>
) {
    let blockRows = m / 16 * 16
    // op(B)(p, j) is at column[p * step]: stored row j when transB, column j otherwise.
    let step = transB ? 1 : n
    for j in from..<n {
        let column = transB ? b + j &* k : b + j
        var i0 = 0
        while i0 < blockRows {
            var sum = SIMD16<Float>()
            for l in 0..<16 { sum[l] = c[(i0 &+ l) &* n &+ j] }
            for p in 0..<k { sum.addProduct(loadLanes(aT + (p &* ldaT &+ i0)), SIMD16(repeating: column[p &* step])) }
            for l in 0..<16 { c[(i0 &+ l) &* n &+ j] = sum[l] }
            i0 &+= 16
        }
        for i in blockRows..<m {
            let row = a + i &* lda
            var sum = c[i &* n &+ j]
            for p in 0..<k { sum.addProduct(row[p &* strideP], column[p &* step]) }
            c[i &* n &+ j] = sum
        }
    }
}

/// The whole product on copies of B (transposed when `transB`) and C padded to whole vectors.
private func paddedProduct(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, strideP: Int, b: UnsafePointer<Float>, transB: Bool,
    c: UnsafeMutablePointer<Float>
) {
    let width = (n + 15) / 16 * 16
    withUnsafeTemporaryAllocation(of: Float.self, capacity: (k + m) * width) { scratch in
        let bp = scratch.baseAddress!, cp = bp + k * width
        if transB {
            transpose(rows: n, cols: k, b, ld: k, bp, ldDst: width)
        } else {
            for p in 0..<k { (bp + p * width).update(from: b + p * n, count: n) }
        }
        for p in 0..<k { (bp + p * width + n).initialize(repeating: 0, count: width - n) }
        for i in 0..<m {
            let row = cp + i * width
            row.update(from: c + i * n, count: n)
            (row + n).initialize(repeating: 0, count: width - n)
        }
        productTiles(m: m, width: width, k: k, a: a, lda: lda, strideP: strideP, b: bp, ldb: width, c: cp, ldc: width)
        for i in 0..<m { (c + i * n).update(from: cp + i * width, count: n) }
    }
}

/// C[m, 0..<width] += A·B[k, 0..<width] (`width` a multiple of 16; rows of B and C `ldb` / `ldc`
/// apart) in 4-row tiles of 1 or 2 vectors.
@inline(__always)
private func productTiles(m: Int, width: Int, k: Int, a: UnsafePointer<Float>, lda: Int, strideP: Int,
                          b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
    var j = 0
    while j < width {
        let vectors = width - j >= 32 ? 2 : 1
        var i = 0
        while i < m {
            let rows = min(4, m - i), ai = a + i * lda, ci = c + i * ldc + j
            // Literal tile sizes, so that each call is compiled without the size tests.
            switch (rows, vectors) {
            case (4, 2): productTile(rows: 4, vectors: 2, k: k, a: ai, lda: lda, strideP: strideP, b: b + j, ldb: ldb, c: ci, ldc: ldc)
            case (4, _): productTile(rows: 4, vectors: 1, k: k, a: ai, lda: lda, strideP: strideP, b: b + j, ldb: ldb, c: ci, ldc: ldc)
            case (_, 2): productTile(rows: rows, vectors: 2, k: k, a: ai, lda: lda, strideP: strideP, b: b + j, ldb: ldb, c: ci, ldc: ldc)
            default: productTile(rows: rows, vectors: 1, k: k, a: ai, lda: lda, strideP: strideP, b: b + j, ldb: ldb, c: ci, ldc: ldc)
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
