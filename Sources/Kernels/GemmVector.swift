// Vector-matrix product for GEMMs with one row or one column (batch-1 dense layers). Packing would
// read B once more than the product itself, so these read the operands in place: memory bandwidth,
// not FMA throughput, is the limit here.

/// `y[j * incy] = alpha * sum_p x[p * incx] * M[p, j] + beta * y[j * incy]` for `j` in `0..<n`, then
/// `+ vectorBias[j]`, `+ scalarBias[0]`, and ReLU. `M` is a `k x n` view (any strides);
/// `k >= 1`, `n >= 1`. `beta == 0` means y is not read.
func gemv(
    k: Int, n: Int, x: UnsafePointer<Float>, incx: Int, matrix: MatrixView,
    y: UnsafeMutablePointer<Float>, incy: Int, alpha: Float, beta: Float,
    vectorBias: UnsafePointer<Float>?, scalarBias: UnsafePointer<Float>?, relu: Bool, threads: Int
) {
    if incx != 1 {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { buffer in
            let xs = buffer.baseAddress!
            for p in 0..<k { xs[p] = x[p * incx] }
            gemv(
                k: k, n: n, x: xs, incx: 1, matrix: matrix, y: y, incy: incy, alpha: alpha, beta: beta,
                vectorBias: vectorBias, scalarBias: scalarBias, relu: relu, threads: threads)
        }
        return
    }
    // Split columns over threads in 64-column chunks; each thread streams its own part of M.
    let chunks = (n + 63) / 64
    let t = max(1, min(threads, chunks, k * n / gemvMinElementsPerThread))
    Parallel.forEach(t, threads: t) { part in
        let j0 = chunks * part / t * 64
        let j1 = min(n, chunks * (part + 1) / t * 64)
        gemvColumns(
            k: k, j0: j0, j1: j1, x: x, matrix: matrix, y: y, incy: incy, alpha: alpha, beta: beta,
            vectorBias: vectorBias, scalarBias: scalarBias, relu: relu)
    }
}

/// Elements of M per thread below which a vector product stays on one thread (~25 µs of work at
/// ~40 GB/s). The batch-1 layer 784 x 256 (9.6 µs alone, 5.1 µs on two spinning threads, 25-30 µs
/// when the worker must be woken) stays single-threaded.
let gemvMinElementsPerThread = 1 << 18

/// Columns `j0..<j1` of `gemv`, 128 at a time through a stack tile of raw dot products.
private func gemvColumns(
    k: Int, j0: Int, j1: Int, x: UnsafePointer<Float>, matrix: MatrixView,
    y: UnsafeMutablePointer<Float>, incy: Int, alpha: Float, beta: Float,
    vectorBias: UnsafePointer<Float>?, scalarBias: UnsafePointer<Float>?, relu: Bool
) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 128) { buffer in
        let tile = buffer.baseAddress!
        var j = j0
        while j < j1 {
            let width = min(128, j1 - j)
            if matrix.columnStride == 1 {
                rowMajorDots(k: k, width: width, x: x, m: matrix.base + j, ld: matrix.rowStride, out: tile)
            } else if matrix.rowStride == 1 {
                columnDots(
                    k: k, width: width, x: x, m: matrix.base + j * matrix.columnStride, ld: matrix.columnStride,
                    out: tile)
            } else {
                for q in 0..<width {
                    var acc: Float = 0
                    let col = matrix.base + (j + q) * matrix.columnStride
                    for p in 0..<k { acc = acc.addingProduct(x[p], col[p * matrix.rowStride]) }
                    tile[q] = acc
                }
            }
            let sb: Float = scalarBias?[0] ?? 0
            for q in 0..<width {
                let dst = y + (j + q) * incy
                var v = tile[q] * alpha
                if beta != 0 { v += beta * dst.pointee }
                v += sb
                if let vb = vectorBias { v += vb[j + q] }
                if relu { v = max(v, 0) }
                dst.pointee = v
            }
            j += width
        }
    }
}

/// `out[q] = sum_p x[p] * m[p * ld + q]` for `q < width` (<= 128): rows of M are contiguous, so
/// accumulate whole row segments in registers.
private func rowMajorDots(
    k: Int, width: Int, x: UnsafePointer<Float>, m: UnsafePointer<Float>, ld: Int, out: UnsafeMutablePointer<Float>
) {
    var q = 0
    if width == 128 {
        var c0 = SIMD16<Float>()
        var c1 = SIMD16<Float>()
        var c2 = SIMD16<Float>()
        var c3 = SIMD16<Float>()
        var c4 = SIMD16<Float>()
        var c5 = SIMD16<Float>()
        var c6 = SIMD16<Float>()
        var c7 = SIMD16<Float>()
        var row = m
        for p in 0..<k {
            let xp = SIMD16<Float>(repeating: x[p])
            c0 = c0.addingProduct(xp, loadLanes(row))
            c1 = c1.addingProduct(xp, loadLanes(row + 16))
            c2 = c2.addingProduct(xp, loadLanes(row + 32))
            c3 = c3.addingProduct(xp, loadLanes(row + 48))
            c4 = c4.addingProduct(xp, loadLanes(row + 64))
            c5 = c5.addingProduct(xp, loadLanes(row + 80))
            c6 = c6.addingProduct(xp, loadLanes(row + 96))
            c7 = c7.addingProduct(xp, loadLanes(row + 112))
            row += ld
        }
        storeLanes(c0, out)
        storeLanes(c1, out + 16)
        storeLanes(c2, out + 32)
        storeLanes(c3, out + 48)
        storeLanes(c4, out + 64)
        storeLanes(c5, out + 80)
        storeLanes(c6, out + 96)
        storeLanes(c7, out + 112)
        return
    }
    while q + 16 <= width {
        var c0 = SIMD16<Float>()
        var row = m + q
        for p in 0..<k {
            c0 = c0.addingProduct(x[p], loadLanes(row))
            row += ld
        }
        storeLanes(c0, out + q)
        q += 16
    }
    while q < width {
        var acc: Float = 0
        var e = m + q
        for p in 0..<k {
            acc = acc.addingProduct(x[p], e.pointee)
            e += ld
        }
        out[q] = acc
        q += 1
    }
}

/// `out[q] = sum_p x[p] * m[q * ld + p]` for `q < width`: columns of M are contiguous (B given
/// transposed, e.g. a dense layer's `[out, in]` weight), so each output is a dot product; four at
/// a time share the loads of x.
private func columnDots(
    k: Int, width: Int, x: UnsafePointer<Float>, m: UnsafePointer<Float>, ld: Int, out: UnsafeMutablePointer<Float>
) {
    var q = 0
    while q < width {
        let cols = min(4, width - q)
        let m0 = m + q * ld
        let m1 = cols > 1 ? m0 + ld : m0
        let m2 = cols > 2 ? m0 + 2 * ld : m0
        let m3 = cols > 3 ? m0 + 3 * ld : m0
        var a0 = SIMD16<Float>()
        var a1 = SIMD16<Float>()
        var a2 = SIMD16<Float>()
        var a3 = SIMD16<Float>()
        var b0 = SIMD16<Float>()
        var b1 = SIMD16<Float>()
        var b2 = SIMD16<Float>()
        var b3 = SIMD16<Float>()
        var p = 0
        while p + 32 <= k {
            let x0 = loadLanes(x + p)
            let x1 = loadLanes(x + p + 16)
            a0 = a0.addingProduct(x0, loadLanes(m0 + p))
            b0 = b0.addingProduct(x1, loadLanes(m0 + p + 16))
            a1 = a1.addingProduct(x0, loadLanes(m1 + p))
            b1 = b1.addingProduct(x1, loadLanes(m1 + p + 16))
            a2 = a2.addingProduct(x0, loadLanes(m2 + p))
            b2 = b2.addingProduct(x1, loadLanes(m2 + p + 16))
            a3 = a3.addingProduct(x0, loadLanes(m3 + p))
            b3 = b3.addingProduct(x1, loadLanes(m3 + p + 16))
            p += 32
        }
        if p + 16 <= k {
            let x0 = loadLanes(x + p)
            a0 = a0.addingProduct(x0, loadLanes(m0 + p))
            a1 = a1.addingProduct(x0, loadLanes(m1 + p))
            a2 = a2.addingProduct(x0, loadLanes(m2 + p))
            a3 = a3.addingProduct(x0, loadLanes(m3 + p))
            p += 16
        }
        var s0 = (a0 + b0).sum()
        var s1 = (a1 + b1).sum()
        var s2 = (a2 + b2).sum()
        var s3 = (a3 + b3).sum()
        while p < k {
            let xp = x[p]
            s0 = s0.addingProduct(xp, m0[p])
            s1 = s1.addingProduct(xp, m1[p])
            s2 = s2.addingProduct(xp, m2[p])
            s3 = s3.addingProduct(xp, m3[p])
            p += 1
        }
        out[q] = s0
        if cols > 1 { out[q + 1] = s1 }
        if cols > 2 { out[q + 2] = s2 }
        if cols > 3 { out[q + 3] = s3 }
        q += 4
    }
}
