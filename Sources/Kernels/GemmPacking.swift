// Packing of GEMM operands into the panel layouts the micro-kernel reads (GemmMicroKernel.swift).
//
// Packed A: `ceil(mc / 12)` panels, each `kc x 12`, stored k-major: panel[p * 12 + r] = A[i0 + r, p0 + p].
// Packed B: `ceil(nc / 32)` panels, each `kc x 32`, stored k-major: panel[p * 32 + j] = B[p0 + p, j0 + j].
// Rows / columns past the matrix edge are zero, so edge tiles run the full-size kernel and only
// their store is clipped.

/// Register-tile and cache-block sizes, in elements.
///
/// Sized for this machine's AMD EPYC (Zen 5, CPU family 26: 48 KiB L1d, 1 MiB L2 per core; first
/// sized for 32 KiB of L1d, which it still fits): the kernel keeps one A micro-panel
/// (12 x kc = 12 KiB at kc = 256) in L1 while streaming B micro-panels from a kc x nc block
/// (256 x 512 = 512 KiB) that stays in L2; the mc x kc A block (144 KiB) sits in L2 beside it.
enum GemmBlocking {
    static let mr = 12
    static let nr = 32
    static let kc = 256

    /// Rows of the K block starting at `pc` when K is split into equal blocks of at most `kc`
    /// (784 = 4 x 196 rather than 3 x 256 + 16: a thin last block costs a full pass over C for few
    /// FMAs). Packing (`PackedMatrix`) and the driver must split alike, so both call this.
    static func depth(_ k: Int, from pc: Int) -> Int {
        let blocks = (k + kc - 1) / kc
        return min((k + blocks - 1) / blocks, k - pc)
    }
    static let mc = 144
    static let nc = 512
}

/// A strided view of a logical matrix: element (i, j) is `base[i * rowStride + j * columnStride]`.
/// Used for op(A) and op(B) so transposition is just swapped strides.
struct MatrixView {
    var base: UnsafePointer<Float>
    var rowStride: Int
    var columnStride: Int

    init(_ base: UnsafePointer<Float>, ld: Int, transposed: Bool) {
        self.base = base
        rowStride = transposed ? 1 : ld
        columnStride = transposed ? ld : 1
    }

    init(base: UnsafePointer<Float>, rowStride: Int, columnStride: Int) {
        self.base = base
        self.rowStride = rowStride
        self.columnStride = columnStride
    }

    @inline(__always)
    func offset(row: Int, column: Int) -> MatrixView {
        MatrixView(
            base: base + row * rowStride + column * columnStride, rowStride: rowStride, columnStride: columnStride)
    }
}

/// Packs the `mc x kc` block of `a` (a view already offset to the block's corner) into
/// `ceil(mc / 12)` A panels at `dst` (capacity `roundUp(mc, 12) * kc`).
func packA(_ a: MatrixView, mc: Int, kc: Int, into dst: UnsafeMutablePointer<Float>) {
    let mr = GemmBlocking.mr
    var i0 = 0
    var out = dst
    while i0 < mc {
        let rows = min(mr, mc - i0)
        if a.rowStride == 1 {
            // op(A) is a transposed store: the 12 values of one k step are contiguous.
            for p in 0..<kc {
                let src = a.base + i0 + p * a.columnStride
                let o = out + p * mr
                for r in 0..<rows { o[r] = src[r] }
                for r in rows..<mr { o[r] = 0 }
            }
        } else {
            // Row-major A: read each row contiguously, write with stride 12.
            for r in 0..<rows {
                let src = a.base + (i0 + r) * a.rowStride
                let cs = a.columnStride
                var o = out + r
                for p in 0..<kc {
                    o.pointee = src[p * cs]
                    o += mr
                }
            }
            if rows < mr {
                for p in 0..<kc {
                    for r in rows..<mr { out[p * mr + r] = 0 }
                }
            }
        }
        out += mr * kc
        i0 += mr
    }
}

/// Packs the `kc x nc` block of `b` (a view offset to the block's corner) into `ceil(nc / 32)` B
/// panels at `dst` (capacity `roundUp(nc, 32) * kc`).
func packB(_ b: MatrixView, kc: Int, nc: Int, into dst: UnsafeMutablePointer<Float>) {
    let nr = GemmBlocking.nr
    var j0 = 0
    var out = dst
    while j0 < nc {
        let cols = min(nr, nc - j0)
        if b.columnStride == 1 {
            if cols == nr {
                for p in 0..<kc {
                    let src = UnsafeRawPointer(b.base + p * b.rowStride + j0)
                    let o = UnsafeMutableRawPointer(out + p * nr)
                    o.storeBytes(of: src.loadUnaligned(as: SIMD16<Float>.self), as: SIMD16<Float>.self)
                    o.storeBytes(
                        of: src.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self),
                        toByteOffset: 64, as: SIMD16<Float>.self)
                }
            } else {
                for p in 0..<kc {
                    let src = b.base + p * b.rowStride + j0
                    let o = out + p * nr
                    for j in 0..<cols { o[j] = src[j] }
                    for j in cols..<nr { o[j] = 0 }
                }
            }
        } else {
            // op(B) is a transposed store (B^T row-major): each output column is a contiguous source
            // row, written with stride 32.
            let rs = b.rowStride
            for j in 0..<cols {
                let src = b.base + (j0 + j) * b.columnStride
                var o = out + j
                for p in 0..<kc {
                    o.pointee = src[p * rs]
                    o += nr
                }
            }
            if cols < nr {
                for p in 0..<kc {
                    for j in cols..<nr { out[p * nr + j] = 0 }
                }
            }
        }
        out += nr * kc
        j0 += nr
    }
}

@inline(__always)
func roundUp(_ x: Int, _ multiple: Int) -> Int {
    (x + multiple - 1) / multiple * multiple
}
