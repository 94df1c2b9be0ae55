// Products of small matrices without packing, for the many tiny GEMMs of attention
// (e.g. 1,024 products of [17 x 16] · [16 x 17] per layer at batch 256, 4 heads).
//
// `sgemm` packs A and B into panels before its 12 x 32 micro-kernel, which is what makes large
// products fast but costs microseconds per call: for a 17 x 17 x 16 product the packing and dispatch
// cost more than the 4,624 FMAs (measured ~4 GFLOP/s). Here rows of C are accumulated directly in one
// or two SIMD16 vectors across N, four rows at a time, reading A by broadcasts and B by rows.

/// Floats of scratch `smallGemm` needs: a copy of B with rows padded to a multiple of 16 when N is
/// not one (so vector loads never run past B's allocation).
public func smallGemmScratchCount(n: Int, k: Int) -> Int { n % 16 == 0 ? 0 : k * ((n + 15) / 16 * 16) }

/// Whether `smallGemm` handles these sizes (N ≤ 32); larger products should use `sgemm`.
public func smallGemmSupports(n: Int) -> Bool { n >= 1 && n <= 32 }

/// C = A · B for row-major A [m, k] (row stride `lda`), B [k, n] (row stride `ldb`), C [m, n] (row
/// stride `ldc`), with 1 ≤ n ≤ 32; C is overwritten. `scratch` holds at least
/// `smallGemmScratchCount(n:k:)` floats. Single-threaded (callers parallelise over the batch).
/// Accuracy: one FMA per term, accumulated in order of k (as `sgemm`).
public func smallGemm(
    m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int, scratch: UnsafeMutablePointer<Float>
) {
    precondition(smallGemmSupports(n: n) && m >= 0 && k >= 0, "smallGemm: n must be in 1...32")
    var bRows = b
    var bStride = ldb
    if n % 16 != 0 {
        // Pad B's rows to whole vectors with zeros.
        let padded = (n + 15) / 16 * 16
        for p in 0..<k {
            let row = scratch + p * padded
            row.update(from: b + p * ldb, count: n)
            (row + n).update(repeating: 0, count: padded - n)
        }
        bRows = UnsafePointer(scratch)
        bStride = padded
    }
    if n <= 16 {
        smallGemmRows(vectors: 1, m: m, n: n, k: k, a: a, lda: lda, b: bRows, ldb: bStride, c: c, ldc: ldc)
    } else {
        smallGemmRows(vectors: 2, m: m, n: n, k: k, a: a, lda: lda, b: bRows, ldb: bStride, c: c, ldc: ldc)
    }
}

/// Stores the first `count` (1...16) lanes of `v` at `p`.
@inline(__always)
private func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
    if count == 16 {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    } else {
        for lane in 0..<count { p[lane] = v[lane] }
    }
}

/// Four rows at a time with `vectors` (1 or 2, a literal after inlining) accumulators per row; B rows
/// are readable for `vectors · 16` floats.
@inline(__always)
private func smallGemmRows(
    vectors: Int, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    let tail0 = min(n, 16), tail1 = n - 16
    var i = 0
    while i + 4 <= m {
        var r00 = SIMD16<Float>(), r10 = SIMD16<Float>(), r20 = SIMD16<Float>(), r30 = SIMD16<Float>()
        var r01 = SIMD16<Float>(), r11 = SIMD16<Float>(), r21 = SIMD16<Float>(), r31 = SIMD16<Float>()
        let a0 = a + i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda
        for p in 0..<k {
            let bp = b + p * ldb
            let b0 = loadLanes(bp)
            r00 = r00.addingProduct(a0[p], b0)
            r10 = r10.addingProduct(a1[p], b0)
            r20 = r20.addingProduct(a2[p], b0)
            r30 = r30.addingProduct(a3[p], b0)
            if vectors > 1 {
                let b1 = loadLanes(bp + 16)
                r01 = r01.addingProduct(a0[p], b1)
                r11 = r11.addingProduct(a1[p], b1)
                r21 = r21.addingProduct(a2[p], b1)
                r31 = r31.addingProduct(a3[p], b1)
            }
        }
        let c0 = c + i * ldc
        store16(r00, c0, count: tail0)
        store16(r10, c0 + ldc, count: tail0)
        store16(r20, c0 + 2 * ldc, count: tail0)
        store16(r30, c0 + 3 * ldc, count: tail0)
        if vectors > 1 {
            store16(r01, c0 + 16, count: tail1)
            store16(r11, c0 + ldc + 16, count: tail1)
            store16(r21, c0 + 2 * ldc + 16, count: tail1)
            store16(r31, c0 + 3 * ldc + 16, count: tail1)
        }
        i += 4
    }
    while i < m {
        var r0 = SIMD16<Float>(), r1 = SIMD16<Float>()
        let ai = a + i * lda
        for p in 0..<k {
            let bp = b + p * ldb
            r0 = r0.addingProduct(ai[p], loadLanes(bp))
            if vectors > 1 { r1 = r1.addingProduct(ai[p], loadLanes(bp + 16)) }
        }
        store16(r0, c + i * ldc, count: tail0)
        if vectors > 1 { store16(r1, c + i * ldc + 16, count: tail1) }
        i += 1
    }
}
