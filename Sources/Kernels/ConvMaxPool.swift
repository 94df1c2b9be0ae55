/// A convolution (+ ReLU) followed by a max pool, as one call: `maxPool2d(pool, conv2d(s, ...))`.
///
/// Why: a CNN stem (1 -> 32 channels on 28x28, batch 256) writes a 25.7 MB tensor that only the
/// next MaxPool reads. Written to memory and read back, that tensor cost more than the stem's
/// multiply-adds (idle machine, batch 256, two threads, before this path: 4.4 ms conv + 1.2 ms pool).
/// Measured with the fixed spatial tiles (the `stem conv+maxpool` benchmarks in
/// Benchmarks/KernelBenchmarks, one thread, thread CPU time, loaded machine): 3.6-3.9 ms as two calls, 2.5 ms fused. When images are split over threads and the direct
/// kernels run (`fusesPool`), each worker convolves one image into a private scratch (100 KB for
/// the stem: it stays in L2) and pools it from there, so the unpooled tensor never reaches
/// memory. Otherwise (a single image, Winograd or GEMM shapes) the convolution runs whole into the
/// workspace and the pool reads it back: the same result, no saving.
///
/// Results are bit-identical to the two separate calls (the same tile kernels and the same max).

/// Whether `conv2dMaxPool` fuses the pool into the per-image loop for this shape (otherwise it
/// convolves the whole batch into the workspace first). Independent of the thread count.
func fusesPool(_ s: Conv2DShape) -> Bool {
    let algorithm = convAlgorithm(s)
    return s.batch >= 2 && (algorithm == .spatial || algorithm == .pixelMajor) && winogradTile(for: s) == nil
}

/// Floats of workspace `conv2dMaxPool` needs for `s` on up to `threads` threads.
public func conv2dMaxPoolWorkspaceCount(_ s: Conv2DShape, threads: Int) -> Int {
    let threads = max(1, threads)
    if fusesPool(s) {
        return directConvWorkspaceCount(s, threads: threads, spatial: convAlgorithm(s) == .spatial, pooled: true)
    }
    return s.batch * s.outChannels * s.outHeight * s.outWidth + conv2dWorkspaceCount(s, threads: threads)
}

/// `maxPool2d(pool, relu?(conv2d(s, input, weights, bias)))` without materialising the convolution
/// output when `fusesPool(s)`.
///
/// - `pool` describes the pool over the convolution's output: `batch == s.batch`, `channels ==
///   s.outChannels`, `inHeight == s.outHeight`, `inWidth == s.outWidth` (checked).
/// - `output`: `[batch, outChannels, pool.outHeight, pool.outWidth]`. `workspace`: at least
///   `conv2dMaxPoolWorkspaceCount(s, threads:)` floats, not aliasing the tensors.
/// - `packedWeights` (made for `s`, any batch) or, when nil, plain OIHW `weight`.
public func conv2dMaxPool(
    _ s: Conv2DShape, pool: Pool2DShape, input: UnsafePointer<Float>, packedWeights: PackedConvWeights?,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, relu: Bool,
    workspace: UnsafeMutablePointer<Float>, threads: Int
) {
    precondition(
        pool.batch == s.batch && pool.channels == s.outChannels && pool.inHeight == s.outHeight
            && pool.inWidth == s.outWidth, "conv2dMaxPool: the pool does not read the convolution's output")
    s.validate()
    let threads = max(1, threads)
    if s.batch == 0 || s.outChannels == 0 || s.outHeight * s.outWidth == 0 { return }
    guard fusesPool(s) else {
        let convolved = workspace
        let scratch = workspace + s.batch * s.outChannels * s.outHeight * s.outWidth
        if let packedWeights {
            conv2d(s, input: input, packedWeights: packedWeights, bias: bias, output: convolved, relu: relu,
                   workspace: scratch, threads: threads)
        } else {
            conv2d(s, input: input, weight: weight, bias: bias, output: convolved, relu: relu, workspace: scratch,
                   threads: threads)
        }
        maxPool2d(pool, input: convolved, output: output, threads: threads)
        return
    }
    var one = pool
    one.batch = 1
    let g = DirectConvGeometry(s, spatial: convAlgorithm(s) == .spatial)
    if let packedWeights {
        var same = packedWeights.shape
        same.batch = s.batch
        precondition(same == s && packedWeights.direct, "conv2dMaxPool: packed weights were made for another shape")
    }
    directConv(
        g, input: input, packed: packedWeights.map { UnsafePointer($0.storage) }, weight: weight, bias: bias,
        output: output, residual: nil, relu: relu, workspace: workspace, threads: threads,
        pool: DirectConvPool(shape: one, output: output, scratch: workspace),
        offsets: packedWeights?.offsets.map { UnsafePointer($0) })
}
