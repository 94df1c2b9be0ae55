// The AVX-512 register-blocked GEMM micro-kernel: a 12 x 32 tile of C held in 24 SIMD16<Float>
// accumulators (of 32 zmm registers), fed by packed panels (see GemmPacking.swift).
//
// Why 12 x 32: per k step it loads 2 vectors of B and broadcasts 12 scalars of A for 24 FMAs, so the
// FMA units, not the load ports, are the limit; 24 accumulators + 2 B vectors + 1 broadcast fit the
// 32 registers without spills. The row count `mr` (1...12) is a parameter that the dispatcher passes
// as a literal to an inlined body, so each edge height compiles to its own spill-free loop.
//
// The body is written out row by row on purpose: arrays or tuples of accumulators are not kept in
// registers by the optimizer.

/// How a finished tile is combined with C. `alpha` scales the product; when `accumulate` is true the
/// old C is added scaled by `beta` (the first K block uses the caller's beta, later blocks use 1);
/// `rowBias` (already offset to the tile's first row), `columnBias` (offset to its first column)
/// and `relu` are applied only on the last K block.
struct TileStore {
    var alpha: Float
    var beta: Float
    var accumulate: Bool
    var rowBias: UnsafePointer<Float>?
    var columnBias: UnsafePointer<Float>?
    var relu: Bool

    /// Plain overwrite with the raw product, used to fill the scratch tile of an edge block.
    static var raw: TileStore {
        TileStore(alpha: 1, beta: 0, accumulate: false, rowBias: nil, columnBias: nil, relu: false)
    }
}

/// Finishes one row of a tile: `c[0..<32] = store(acc0 ++ acc1)`.
@inline(__always)
private func storeRow(
    _ acc0: SIMD16<Float>, _ acc1: SIMD16<Float>, _ c: UnsafeMutablePointer<Float>, row: Int,
    _ s: TileStore
) {
    var v0 = acc0 * s.alpha
    var v1 = acc1 * s.alpha
    if s.accumulate {
        v0 = v0.addingProduct(s.beta, loadLanes(c))
        v1 = v1.addingProduct(s.beta, loadLanes(c + 16))
    }
    if let rb = s.rowBias {
        v0 += rb[row]
        v1 += rb[row]
    }
    if let cb = s.columnBias {
        v0 += loadLanes(cb)
        v1 += loadLanes(cb + 16)
    }
    if s.relu {
        v0 = vmax(v0, SIMD16<Float>())
        v1 = vmax(v1, SIMD16<Float>())
    }
    storeLanes(v0, c)
    storeLanes(v1, c + 16)
}

/// C tile (mr x 32, row stride ldc) = store(Ap * Bp) over `kc` steps. `a` is an MR-interleaved
/// A panel (`a[p * 12 + r]`), `b` an NR-interleaved B panel (`b[p * 32 + j]`). `kc >= 1`.
@inline(__always)
private func microKernelBody(
    mr: Int, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, _ s: TileStore
) {
    var c00 = SIMD16<Float>()
    var c01 = SIMD16<Float>()
    var c10 = SIMD16<Float>()
    var c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>()
    var c21 = SIMD16<Float>()
    var c30 = SIMD16<Float>()
    var c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>()
    var c41 = SIMD16<Float>()
    var c50 = SIMD16<Float>()
    var c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>()
    var c61 = SIMD16<Float>()
    var c70 = SIMD16<Float>()
    var c71 = SIMD16<Float>()
    var c80 = SIMD16<Float>()
    var c81 = SIMD16<Float>()
    var c90 = SIMD16<Float>()
    var c91 = SIMD16<Float>()
    var c100 = SIMD16<Float>()
    var c101 = SIMD16<Float>()
    var c110 = SIMD16<Float>()
    var c111 = SIMD16<Float>()
    var ap = a
    var bp = b
    var p = 0
    while p < kc {
        let b0 = loadLanes(bp)
        let b1 = loadLanes(bp + 16)
        let a0 = SIMD16<Float>(repeating: ap[0])
        c00 = c00.addingProduct(a0, b0)
        c01 = c01.addingProduct(a0, b1)
        if mr > 1 {
            let a1 = SIMD16<Float>(repeating: ap[1])
            c10 = c10.addingProduct(a1, b0)
            c11 = c11.addingProduct(a1, b1)
        }
        if mr > 2 {
            let a2 = SIMD16<Float>(repeating: ap[2])
            c20 = c20.addingProduct(a2, b0)
            c21 = c21.addingProduct(a2, b1)
        }
        if mr > 3 {
            let a3 = SIMD16<Float>(repeating: ap[3])
            c30 = c30.addingProduct(a3, b0)
            c31 = c31.addingProduct(a3, b1)
        }
        if mr > 4 {
            let a4 = SIMD16<Float>(repeating: ap[4])
            c40 = c40.addingProduct(a4, b0)
            c41 = c41.addingProduct(a4, b1)
        }
        if mr > 5 {
            let a5 = SIMD16<Float>(repeating: ap[5])
            c50 = c50.addingProduct(a5, b0)
            c51 = c51.addingProduct(a5, b1)
        }
        if mr > 6 {
            let a6 = SIMD16<Float>(repeating: ap[6])
            c60 = c60.addingProduct(a6, b0)
            c61 = c61.addingProduct(a6, b1)
        }
        if mr > 7 {
            let a7 = SIMD16<Float>(repeating: ap[7])
            c70 = c70.addingProduct(a7, b0)
            c71 = c71.addingProduct(a7, b1)
        }
        if mr > 8 {
            let a8 = SIMD16<Float>(repeating: ap[8])
            c80 = c80.addingProduct(a8, b0)
            c81 = c81.addingProduct(a8, b1)
        }
        if mr > 9 {
            let a9 = SIMD16<Float>(repeating: ap[9])
            c90 = c90.addingProduct(a9, b0)
            c91 = c91.addingProduct(a9, b1)
        }
        if mr > 10 {
            let a10 = SIMD16<Float>(repeating: ap[10])
            c100 = c100.addingProduct(a10, b0)
            c101 = c101.addingProduct(a10, b1)
        }
        if mr > 11 {
            let a11 = SIMD16<Float>(repeating: ap[11])
            c110 = c110.addingProduct(a11, b0)
            c111 = c111.addingProduct(a11, b1)
        }
        ap += 12
        bp += 32
        p += 1
    }
    storeRow(c00, c01, c, row: 0, s)
    if mr > 1 { storeRow(c10, c11, c + 1 * ldc, row: 1, s) }
    if mr > 2 { storeRow(c20, c21, c + 2 * ldc, row: 2, s) }
    if mr > 3 { storeRow(c30, c31, c + 3 * ldc, row: 3, s) }
    if mr > 4 { storeRow(c40, c41, c + 4 * ldc, row: 4, s) }
    if mr > 5 { storeRow(c50, c51, c + 5 * ldc, row: 5, s) }
    if mr > 6 { storeRow(c60, c61, c + 6 * ldc, row: 6, s) }
    if mr > 7 { storeRow(c70, c71, c + 7 * ldc, row: 7, s) }
    if mr > 8 { storeRow(c80, c81, c + 8 * ldc, row: 8, s) }
    if mr > 9 { storeRow(c90, c91, c + 9 * ldc, row: 9, s) }
    if mr > 10 { storeRow(c100, c101, c + 10 * ldc, row: 10, s) }
    if mr > 11 { storeRow(c110, c111, c + 11 * ldc, row: 11, s) }
}

/// Runs the micro-kernel for a tile of `mr` (1...12) rows and 32 columns; see `microKernelBody`.
@inline(never)
func gemmMicroKernel(
    mr: Int, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    c: UnsafeMutablePointer<Float>, ldc: Int, _ s: TileStore
) {
    switch mr {
    case 12: microKernelBody(mr: 12, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 11: microKernelBody(mr: 11, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 10: microKernelBody(mr: 10, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 9: microKernelBody(mr: 9, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 8: microKernelBody(mr: 8, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 7: microKernelBody(mr: 7, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 6: microKernelBody(mr: 6, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 5: microKernelBody(mr: 5, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 4: microKernelBody(mr: 4, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 3: microKernelBody(mr: 3, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 2: microKernelBody(mr: 2, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    case 1: microKernelBody(mr: 1, kc: kc, a: a, b: b, c: c, ldc: ldc, s)
    default: preconditionFailure("gemmMicroKernel: mr must be in 1...12")
    }
}
