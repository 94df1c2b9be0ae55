/// Permutes the axes of a contiguous row-major tensor: output axis `d` is input axis `perm[d]`, so
/// the output shape is `perm.map { shape[$0] }` (ONNX Transpose). `output` must not overlap
/// `input`. Zero-size tensors do nothing; rank 0 copies one element.
///
/// Axes of size 1 are dropped and axes that stay adjacent and in order are merged first, so
/// `[B, H, T, D]` with perm `[0, 2, 1, 3]` becomes a batch of row copies of `D` floats, and a 2-D
/// transpose (or a batch of them, e.g. perm `[0, 2, 1]`) runs in 32 x 32 cache blocks.
public func transpose(
    input: UnsafePointer<Float>, shape: [Int], perm: [Int], output: UnsafeMutablePointer<Float>,
    threads: Int = Parallel.maxThreads
) {
    let rank = shape.count
    precondition(perm.count == rank && Set(perm) == Set(0..<rank), "transpose: perm must permute 0..<rank")
    let total = shape.reduce(1, *)
    if total == 0 { return }
    // Input strides, then the output-ordered (size, input stride) list, collapsed.
    var inStrides = [Int](repeating: 1, count: rank)
    if rank > 1 {
        for d in stride(from: rank - 2, through: 0, by: -1) { inStrides[d] = inStrides[d + 1] * shape[d + 1] }
    }
    var sizes: [Int] = []
    var strides: [Int] = []
    for d in 0..<rank where shape[perm[d]] != 1 {
        let n = shape[perm[d]]
        let s = inStrides[perm[d]]
        // Merge with the previous output axis when it steps exactly over this one in the input.
        if let last = strides.last, last == s * n {
            sizes[sizes.count - 1] *= n
            strides[strides.count - 1] = s
        } else {
            sizes.append(n)
            strides.append(s)
        }
    }
    if sizes.isEmpty || (sizes.count == 1 && strides[0] == 1) {
        output.update(from: input, count: total)
        return
    }
    let r = sizes.count
    if strides[r - 1] == 1 {
        // The innermost output axis is contiguous in the input: copy runs of sizes[r-1] floats.
        let run = sizes[r - 1]
        let rowsCount = total / run
        let outerSizes = Array(sizes.dropLast())
        let outerStrides = Array(strides.dropLast())
        let parts = max(1, min(threads, rowsCount, total / (1 << 16)))
        Parallel.forEach(parts, threads: parts) { part in
            for row in (rowsCount * part / parts)..<(rowsCount * (part + 1) / parts) {
                let src = input + offset(of: row, sizes: outerSizes, strides: outerStrides)
                (output + row * run).update(from: src, count: run)
            }
        }
        return
    }
    // Otherwise some output axis q has input stride 1: transpose the (q, last) plane in blocks for
    // every combination of the remaining axes.
    let q = strides.firstIndex(of: 1)!
    let rowsN = sizes[q]  // output axis q: input-contiguous
    let colsN = sizes[r - 1]  // output innermost axis
    let colStride = strides[r - 1]
    var batchSizes: [Int] = []
    var batchStrides: [Int] = []  // input strides
    var batchOutStrides: [Int] = []
    var outStride = 1
    var outStrides = [Int](repeating: 0, count: r)
    for d in stride(from: r - 1, through: 0, by: -1) {
        outStrides[d] = outStride
        outStride *= sizes[d]
    }
    for d in 0..<(r - 1) where d != q {
        batchSizes.append(sizes[d])
        batchStrides.append(strides[d])
        batchOutStrides.append(outStrides[d])
    }
    let batches = batchSizes.reduce(1, *)
    let outRowStride = outStrides[q]
    let parts = max(1, min(threads, batches * ((rowsN + 31) / 32), total / (1 << 16)))
    let rowBlocks = (rowsN + 31) / 32
    Parallel.forEach(parts, threads: parts) { part in
        let work = batches * rowBlocks
        for w in (work * part / parts)..<(work * (part + 1) / parts) {
            let batch = w / rowBlocks
            let i0 = (w % rowBlocks) * 32
            let src = input + offset(of: batch, sizes: batchSizes, strides: batchStrides)
            let dst = output + offset(of: batch, sizes: batchSizes, strides: batchOutStrides)
            let i1 = min(rowsN, i0 + 32)
            var j0 = 0
            while j0 < colsN {
                let j1 = min(colsN, j0 + 32)
                for i in i0..<i1 {
                    let d = dst + i * outRowStride
                    let s = src + i
                    for j in j0..<j1 { d[j] = s[j * colStride] }
                }
                j0 = j1
            }
        }
    }
}

/// Offset of the `index`-th element of a row-major walk over `sizes`, with per-axis `strides`.
@inline(__always)
private func offset(of index: Int, sizes: [Int], strides: [Int]) -> Int {
    var rem = index
    var off = 0
    var d = sizes.count - 1
    while d >= 0 {
        let n = sizes[d]
        let qt = rem / n
        off += (rem - qt * n) * strides[d]
        rem = qt
        d -= 1
    }
    return off
}
