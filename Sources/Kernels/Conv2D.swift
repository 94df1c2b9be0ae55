/// Geometry of a 2-D convolution over NCHW input (ONNX Conv).
///
/// Input `[batch, inChannels, inHeight, inWidth]`, weight `[outChannels, inChannels / group,
/// kernelH, kernelW]`, output `[batch, outChannels, outHeight, outWidth]`, all contiguous float32.
/// `inChannels` and `outChannels` must be divisible by `group`.
public struct Conv2DShape: Sendable, Equatable {
    public var batch: Int
    public var inChannels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outChannels: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    public var dilationH: Int
    public var dilationW: Int
    public var group: Int

    public init(
        batch: Int, inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int,
        kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
        padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0,
        dilationH: Int = 1, dilationW: Int = 1, group: Int = 1
    ) {
        self.batch = batch
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.padTop = padTop
        self.padLeft = padLeft
        self.padBottom = padBottom
        self.padRight = padRight
        self.dilationH = dilationH
        self.dilationW = dilationW
        self.group = group
    }

    /// `(inHeight + padTop + padBottom - dilationH * (kernelH - 1) - 1) / strideH + 1`, or 0 when
    /// the kernel does not fit.
    public var outHeight: Int {
        let span = inHeight + padTop + padBottom - dilationH * (kernelH - 1) - 1
        return span < 0 ? 0 : span / strideH + 1
    }

    /// `(inWidth + padLeft + padRight - dilationW * (kernelW - 1) - 1) / strideW + 1`, or 0.
    public var outWidth: Int {
        let span = inWidth + padLeft + padRight - dilationW * (kernelW - 1) - 1
        return span < 0 ? 0 : span / strideW + 1
    }

    var inPerGroup: Int { inChannels / group }
    var outPerGroup: Int { outChannels / group }
    /// GEMM depth per group: weights per output channel.
    var patch: Int { inPerGroup * kernelH * kernelW }

    /// 1x1, stride 1, no padding: each image already is the GEMM's B operand `[C, H*W]`.
    var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
    }

    /// 1x1, unpadded, strided (a ResNet projection shortcut) with several images, when the direct
    /// kernels would use pixel-major tiles: a pointwise convolution (GEMM) of the input subsampled
    /// at the output grid. A shallow reduction (<= 32 input channels) stays on the direct spatial
    /// kernel: for 32 -> 64 channels, 14x14 -> 7x7, 64 images on one thread (thread CPU time) it
    /// takes 0.245 ms against the GEMM path's 0.347 (the GEMM path had measured 0.35 vs 0.58 before
    /// the spatial tiles stopped spilling registers).
    var isStridedPointwise: Bool {
        batch >= 2 && hasStridedPointwiseGeometry && convAlgorithm(self) != .spatial
    }

    /// `isStridedPointwise` without the batch condition.
    var hasStridedPointwiseGeometry: Bool {
        kernelH == 1 && kernelW == 1 && (strideH > 1 || strideW > 1)
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
    }

    /// The pointwise convolution of the subsampled input (`isStridedPointwise`).
    var subsampledPointwise: Conv2DShape {
        Conv2DShape(batch: batch, inChannels: inChannels, inHeight: outHeight, inWidth: outWidth,
                    outChannels: outChannels, kernelH: 1, kernelW: 1, group: group)
    }

    /// Floats of the subsampled input of a strided pointwise convolution.
    var subsampledCount: Int { batch * inChannels * outHeight * outWidth }

    /// One input channel per group (depthwise, possibly with a channel multiplier): a direct loop
    /// beats a GEMM of depth kernelH * kernelW.
    var isDepthwise: Bool { group > 1 && inPerGroup == 1 }

    func validate() {
        precondition(
            batch >= 0 && inChannels >= 0 && inHeight >= 0 && inWidth >= 0 && outChannels >= 0, "conv2d: negative size")
        precondition(
            kernelH >= 1 && kernelW >= 1 && strideH >= 1 && strideW >= 1 && dilationH >= 1 && dilationW >= 1,
            "conv2d: bad kernel")
        precondition(padTop >= 0 && padLeft >= 0 && padBottom >= 0 && padRight >= 0, "conv2d: negative padding")
        precondition(
            group >= 1 && inChannels % group == 0 && outChannels % group == 0, "conv2d: channels not divisible by group"
        )
    }
}

/// How many images run side by side (each on one thread with its own workspace slice).
private func imageParallelism(_ s: Conv2DShape, threads: Int) -> Int {
    max(1, min(threads, s.batch))
}

/// Images per GEMM. A small feature map gives a skinny GEMM (N = 49 for 7x7) whose edge tiles and
/// per-call costs dominate, so several images' im2col matrices sit side by side to make N >= ~512;
/// the product then goes through a scratch tile and is scattered back to NCHW (one copy per
/// output, against K multiply-adds). Measured at batch 256, 64->64 3x3 on 7x7, one thread:
/// 29.9 ms -> 18.7 ms (and 15.0 ms with the shifted-plane im2col below).
private func imagesPerGemm(_ s: Conv2DShape, threads: Int) -> Int {
    let outHW = s.outHeight * s.outWidth
    if s.isDepthwise || outHW == 0 || outHW >= 512 { return 1 }
    let perWorker = (s.batch + imageParallelism(s, threads: threads) - 1) / imageParallelism(s, threads: threads)
    return max(1, min(perWorker, (512 + outHW - 1) / outHW))
}

/// Floats per worker: the im2col matrix `[inChannels/group * kernelH * kernelW, images * outH * outW]`
/// (none for a pointwise conv on single images) plus, when several images share a GEMM, its
/// `[outChannels/group, images * outH * outW]` product.
private func workspacePerWorker(_ s: Conv2DShape, threads: Int) -> Int {
    if s.isDepthwise { return 0 }
    let nb = imagesPerGemm(s, threads: threads)
    let columns = nb * s.outHeight * s.outWidth
    if nb == 1 { return s.isPointwise ? 0 : s.patch * columns }
    return (s.patch + s.outPerGroup) * columns
}

/// Floats of workspace `conv2d` needs for this shape and thread count (0 for depthwise and for
/// pointwise convs on large maps). Depends only on the shape and `threads`; the same count serves
/// the `packedWeights:` overload.
public func conv2dWorkspaceCount(_ s: Conv2DShape, threads: Int) -> Int {
    if s.isStridedPointwise {
        return s.subsampledCount + conv2dWorkspaceCount(s.subsampledPointwise, threads: threads)
    }
    // Winograd: transformed weights (for the unpacked overload) + per-worker buffers of either tile,
    // whenever the geometry allows it, whatever the policy; the direct kernels' count is covered
    // too. So a workspace sized under one `ConvolutionOptions.winograd` policy serves any other.
    let winograd = winogradGeometryFits(s) ? winogradWorkspaceCount(s, threads: max(1, threads)) : 0
    return max(winograd, directWorkspaceCount(s, threads: threads))
}

/// A strided pointwise convolution (`s.isStridedPointwise`) with plain OIHW `weight`: the input
/// taps are copied into the start of `workspace` (`[batch, C, outH, outW]`), then convolved 1x1.
private func stridedPointwiseConv(
    _ s: Conv2DShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutablePointer<Float>, threads: Int
) {
    let subsampled = workspace
    let planes = s.batch * s.inChannels
    let parts = max(1, min(threads, planes * s.outHeight * s.outWidth >> 15))
    Parallel.forEach(parts, threads: parts) { part in
        for p in (planes * part / parts)..<(planes * (part + 1) / parts) {
            let x = input + p * s.inHeight * s.inWidth
            let y = subsampled + p * s.outHeight * s.outWidth
            for oh in 0..<s.outHeight {
                let row = x + oh * s.strideH * s.inWidth
                for ow in 0..<s.outWidth { y[oh * s.outWidth + ow] = row[ow * s.strideW] }
            }
        }
    }
    conv2d(s.subsampledPointwise, input: subsampled, weight: weight, bias: bias, output: output, residual: residual,
           relu: relu, workspace: workspace + s.subsampledCount, threads: threads)
}

private func directWorkspaceCount(_ s: Conv2DShape, threads: Int) -> Int {
    switch convAlgorithm(s) {
    case .pixelMajor: return directConvWorkspaceCount(s, threads: max(1, threads), spatial: false)
    case .spatial: return directConvWorkspaceCount(s, threads: max(1, threads), spatial: true)
    case .gemm, .depthwise: return workspacePerWorker(s, threads: threads) * imageParallelism(s, threads: threads)
    }
}

/// The output tile edge of the Winograd convolution `conv2d` runs `s` as (Winograd.swift), or nil
/// for the direct kernels.
///
/// `.auto`: F(4x4, 3x3) with at least 32 channels in and out, where it measured faster than the
/// direct kernels and faster than or equal to F(2x2) (Zen 5, two threads, batch 256, machine under
/// load, ms F(4x4) / F(2x2) / direct): 32 -> 32 on 14x14 7.3 / 8.4 / 9.3, on 28x28 21.8 / 27.0 /
/// 36.6; 64 -> 64 on 7x7 4.4 / 7.0 / 8.8, on 14x14 27.6 / 26.9 / 36.0. A single image is split over
/// the threads by output channels (the sample CNN at batch 1: 0.092 ms against 0.125 ms direct).
func winogradTile(for s: Conv2DShape) -> Int? {
    guard winogradGeometryFits(s) else { return nil }
    switch ConvolutionOptions.winograd {
    case .f2x2: return 2
    case .f4x4: return 4
    case .never: return nil
    case .auto: return s.inChannels >= 32 && s.outChannels >= 32 ? 4 : nil
    }
}

/// 2-D convolution (cross-correlation, as ONNX Conv), NCHW:
/// `out[n, oc, oh, ow] = bias[oc] + sum over (c, kh, kw) of weight[oc, c, kh, kw] *
/// in[n, g * C/group + c, oh * strideH - padTop + kh * dilationH, ow * strideW - padLeft + kw * dilationW]`
/// with out-of-range input taps reading 0, then `+ residual[n, oc, oh, ow]` when `residual` is
/// given, then ReLU when `relu` is true (Conv -> Add -> Relu of a residual block in one pass).
///
/// - `bias`: `outChannels` floats or nil. `residual`: a tensor of the output's shape or nil; it
///   must not overlap `output`. `workspace`: at least `conv2dWorkspaceCount(s, threads:)` floats
///   (any alignment), not aliasing the tensors. `output` must not overlap `input`.
/// - Strategy: Winograd F(4x4, 3x3) or F(2x2, 3x3) where `winogradTile(for:)` says it measured
///   faster; strided 1x1 convs of several images as a subsample + pointwise GEMM
///   (`isStridedPointwise`); otherwise (`convAlgorithm`) a direct convolution with
///   register-blocked tiles (DirectConv.swift) for every shape except depthwise (one input channel per group: a direct loop) and pointwise 1x1
///   stride-1 unpadded convs (im2col-free GEMM on the input). The weights are repacked on every
///   call (~4 us per 64x64x3x3); `PackedConvWeights` + the `packedWeights:` overload skip that.
///   With `batch >= 2` images are split over threads; a single image is split by output channels
///   (or rows).
/// - Accuracy: float32 FMA accumulation over `C/group * kH * kW` terms in (c, kh, kw) order; the
///   bias and the residual are added after the sum (as separate Conv and Add ops would).
public func conv2d(
    _ s: Conv2DShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>? = nil, relu: Bool = false,
    workspace: UnsafeMutablePointer<Float>, threads: Int
) {
    s.validate()
    if s.batch == 0 || s.outChannels == 0 || s.outHeight * s.outWidth == 0 { return }
    if s.isStridedPointwise {
        stridedPointwiseConv(
            s, input: input, weight: weight, bias: bias, output: output, residual: residual, relu: relu,
            workspace: workspace, threads: threads)
        return
    }
    if let tile = winogradTile(for: s) {
        let g = WinogradGeometry(s, tile: tile)
        packWinogradWeights(g, weight, workspace)
        winogradConv(
            g, input: input, u: workspace, bias: bias, output: output, residual: residual, relu: relu,
            workspace: workspace + g.weightFloats, threads: max(1, threads))
        return
    }
    let algorithm = convAlgorithm(s)
    if algorithm == .pixelMajor || algorithm == .spatial {
        let g = DirectConvGeometry(s, spatial: algorithm == .spatial)
        directConv(
            g, input: input, packed: nil, weight: weight, bias: bias, output: output, residual: residual,
            relu: relu, workspace: workspace, threads: max(1, threads))
        return
    }
    conv2dGemm(
        s, input: input, weight: weight, bias: bias, output: output, residual: residual, relu: relu,
        workspace: workspace, threads: threads)
}

/// Weights of one convolution repacked once, for callers that run the same layer many times
/// (saves the repack on every call: ~4 us for 64x64x3x3, 15-20% of that layer at batch 1): the
/// direct kernels' layout (`[group][16-channel block][C/group * kH * kW][16]`) or, for shapes that
/// do not use them, a plain copy; plus a plain copy for strided 1x1 convs and the Winograd
/// transform where the geometry allows it, since which path runs depends on the batch.
/// Independent of `batch`.
public final class PackedConvWeights: @unchecked Sendable {
    /// The shape it was made for (`batch` is ignored when it is used).
    public let shape: Conv2DShape
    let storage: UnsafeMutablePointer<Float>
    let direct: Bool
    /// The weights as given, for strided 1x1 convolutions (their multi-image path is a GEMM).
    let plain: UnsafeMutablePointer<Float>?
    /// Winograd-transformed weights for each output tile (`winogradTiles`) when the geometry
    /// allows Winograd; empty otherwise.
    let winograd: [Int: UnsafeMutablePointer<Float>]
    /// The direct kernels' offset table (`DirectConvGeometry.fillOffsets`, `k + 1` entries; it
    /// depends on the geometry only), when `direct`.
    let offsets: UnsafeMutablePointer<Int32>?

    /// Packs `weight` (`[outChannels, inChannels / group, kernelH, kernelW]`); the pointer need not
    /// outlive the call.
    public init(_ s: Conv2DShape, weight: UnsafePointer<Float>) {
        s.validate()
        shape = s
        let algorithm = convAlgorithm(s)
        direct = algorithm == .pixelMajor || algorithm == .spatial
        if direct {
            let g = DirectConvGeometry(s, spatial: algorithm == .spatial)
            storage = .allocate(capacity: max(1, g.packedWeightCount))
            packDirectConvWeights(g, weight, storage, units: 0..<(s.group * g.blocks))
            let table = UnsafeMutablePointer<Int32>.allocate(capacity: g.k + 1)
            g.fillOffsets(table)
            offsets = table
        } else {
            offsets = nil
            let count = s.outChannels * s.patch
            storage = .allocate(capacity: max(1, count))
            storage.initialize(from: weight, count: count)
        }
        if s.hasStridedPointwiseGeometry {
            let count = s.outChannels * s.patch
            let copy = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
            copy.initialize(from: weight, count: count)
            plain = copy
        } else {
            plain = nil
        }
        var transformed = [Int: UnsafeMutablePointer<Float>]()
        if winogradGeometryFits(s) {
            for tile in winogradTiles {
                let g = WinogradGeometry(s, tile: tile)
                let u = UnsafeMutablePointer<Float>.allocate(capacity: g.weightFloats)
                packWinogradWeights(g, weight, u)
                transformed[tile] = u
            }
        }
        winograd = transformed
    }

    deinit {
        storage.deallocate()
        plain?.deallocate()
        for u in winograd.values { u.deallocate() }
        offsets?.deallocate()
    }
}

/// `conv2d` with weights packed in advance (same semantics and the same workspace size).
/// `packedWeights.shape` must equal `s` except for `batch`.
public func conv2d(
    _ s: Conv2DShape, input: UnsafePointer<Float>, packedWeights: PackedConvWeights, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>? = nil, relu: Bool = false,
    workspace: UnsafeMutablePointer<Float>, threads: Int
) {
    var same = packedWeights.shape
    same.batch = s.batch
    precondition(same == s, "conv2d: packed weights were made for another shape")
    s.validate()
    if s.batch == 0 || s.outChannels == 0 || s.outHeight * s.outWidth == 0 { return }
    if s.isStridedPointwise, let plain = packedWeights.plain {
        stridedPointwiseConv(
            s, input: input, weight: plain, bias: bias, output: output, residual: residual, relu: relu,
            workspace: workspace, threads: threads)
        return
    }
    if let tile = winogradTile(for: s), let u = packedWeights.winograd[tile] {
        let g = WinogradGeometry(s, tile: tile)
        winogradConv(
            g, input: input, u: u, bias: bias, output: output, residual: residual, relu: relu,
            workspace: workspace + g.weightFloats, threads: max(1, threads))
        return
    }
    if packedWeights.direct {
        let g = DirectConvGeometry(s, spatial: convAlgorithm(s) == .spatial)
        directConv(
            g, input: input, packed: packedWeights.storage, weight: packedWeights.storage, bias: bias, output: output,
            residual: residual, relu: relu, workspace: workspace, threads: max(1, threads),
            offsets: packedWeights.offsets.map { UnsafePointer($0) })
        return
    }
    conv2dGemm(
        s, input: input, weight: packedWeights.storage, bias: bias, output: output, residual: residual, relu: relu,
        workspace: workspace, threads: threads)
}

/// The GEMM / depthwise paths, with the residual (if any) added in a second pass.
private func conv2dGemm(
    _ s: Conv2DShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutablePointer<Float>, threads: Int
) {
    guard let residual else {
        conv2dIm2col(
            s, input: input, weight: weight, bias: bias, output: output, relu: relu, workspace: workspace,
            threads: threads)
        return
    }
    conv2dIm2col(
        s, input: input, weight: weight, bias: bias, output: output, relu: false, workspace: workspace,
        threads: threads)
    let count = s.batch * s.outChannels * s.outHeight * s.outWidth
    let parts = max(1, min(threads, count >> 15))
    Parallel.forEach(parts, threads: parts) { part in
        var i = count * part / parts
        let end = count * (part + 1) / parts
        while i + 16 <= end {
            var v = UnsafeRawPointer(output + i).loadUnaligned(as: Vec.self)
                + UnsafeRawPointer(residual + i).loadUnaligned(as: Vec.self)
            if relu { v = vmax(v, Vec()) }
            UnsafeMutableRawPointer(output + i).storeBytes(of: v, as: Vec.self)
            i += 16
        }
        while i < end {
            let v = output[i] + residual[i]
            output[i] = relu && v < 0 ? 0 : v
            i += 1
        }
    }
}

/// The im2col + GEMM path (and the depthwise loop).
private func conv2dIm2col(
    _ s: Conv2DShape, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, relu: Bool, workspace: UnsafeMutablePointer<Float>, threads: Int
) {
    let outHW = s.outHeight * s.outWidth
    let inImage = s.inChannels * s.inHeight * s.inWidth
    let outImage = s.outChannels * outHW
    let perWorker = workspacePerWorker(s, threads: threads)
    let workers = imageParallelism(s, threads: threads)
    let nb = imagesPerGemm(s, threads: threads)
    // Static split: part `p` takes a contiguous run of images and owns workspace slice `p`.
    Parallel.forEach(workers, threads: workers) { part in
        let first = s.batch * part / workers
        let end = s.batch * (part + 1) / workers
        var n = first
        while n < end {
            let count = min(nb, end - n)
            conv2dImages(
                s, input + n * inImage, count: count, weight, bias, output + n * outImage, relu: relu,
                scratch: workspace + part * perWorker, threads: workers >= 2 ? 1 : threads)
            n += count
        }
    }
}

/// `count` consecutive images, all groups.
private func conv2dImages(
    _ s: Conv2DShape, _ x: UnsafePointer<Float>, count: Int, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ y: UnsafeMutablePointer<Float>, relu: Bool, scratch: UnsafeMutablePointer<Float>, threads: Int
) {
    let outHW = s.outHeight * s.outWidth
    let inHW = s.inHeight * s.inWidth
    if s.isDepthwise {
        for i in 0..<count {
            depthwiseImage(
                s, x + i * s.inChannels * inHW, w, bias, y + i * s.outChannels * outHW, relu: relu, threads: threads)
        }
        return
    }
    let columns = count * outHW
    let col = scratch
    let product = scratch + s.patch * columns
    for g in 0..<s.group {
        let a = w + g * s.outPerGroup * s.patch
        let epilogue = GemmEpilogue(bias: bias.map { $0 + g * s.outPerGroup }, biasAxis: .row, relu: relu)
        if count == 1 {
            let xg = x + g * s.inPerGroup * inHW
            let b: UnsafePointer<Float>
            if s.isPointwise {
                b = xg
            } else {
                im2col(s, xg, col, ld: outHW)
                b = UnsafePointer(col)
            }
            sgemm(
                m: s.outPerGroup, n: outHW, k: s.patch, a: a, lda: s.patch, transA: false,
                b: b, ldb: outHW, transB: false, c: y + g * s.outPerGroup * outHW, ldc: outHW,
                epilogue: epilogue, threads: threads)
            continue
        }
        for i in 0..<count {
            im2col(s, x + (i * s.inChannels + g * s.inPerGroup) * inHW, col + i * outHW, ld: columns)
        }
        sgemm(
            m: s.outPerGroup, n: columns, k: s.patch, a: a, lda: s.patch, transA: false,
            b: col, ldb: columns, transB: false, c: product, ldc: columns,
            epilogue: epilogue, threads: threads)
        for i in 0..<count {
            for oc in 0..<s.outPerGroup {
                copyRun(
                    product + oc * columns + i * outHW, y + (i * s.outChannels + g * s.outPerGroup + oc) * outHW, outHW)
            }
        }
    }
}

/// Unrolls one group's input channels into `col[((c * kH + kh) * kW + kw) * ld + oh * outW + ow]`,
/// zero where the tap falls in the padding (`ld >= outH * outW` lets images sit side by side).
/// Copies and fills are inline loops: runs are short (one image row, e.g. 28 floats) and a memmove
/// call per run cost more than the data movement.
func im2col(_ s: Conv2DShape, _ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, ld: Int) {
    let outH = s.outHeight
    let outW = s.outWidth
    // Stride 1 with "same" width: each (c, kh, kw) row of col is the input plane shifted by a
    // constant, so the valid rows are one contiguous copy plus a zeroed border column or two. On
    // 7x7 and 14x14 maps this replaces ~3 short loops per image row.
    let sameWidth = s.strideH == 1 && s.strideW == 1 && outW == s.inWidth
    var row = col
    for c in 0..<s.inPerGroup {
        let plane = x + c * s.inHeight * s.inWidth
        for kh in 0..<s.kernelH {
            for kw in 0..<s.kernelW {
                let wOffset = kw * s.dilationW - s.padLeft
                if sameWidth {
                    im2colShiftedPlane(
                        plane, row, inHeight: s.inHeight, width: outW, outHeight: outH,
                        rowShift: kh * s.dilationH - s.padTop, columnShift: wOffset)
                    row += ld
                    continue
                }
                // Output columns whose tap lands inside the row: ow in [ow0, ow1).
                let (ow0, ow1) = tapRange(wOffset, outW, s.strideW, s.inWidth)
                for oh in 0..<outH {
                    let ih = oh * s.strideH - s.padTop + kh * s.dilationH
                    let dst = row + oh * outW
                    if ih < 0 || ih >= s.inHeight {
                        fillZero(dst, outW)
                        continue
                    }
                    let src = plane + ih * s.inWidth + wOffset
                    fillZero(dst, ow0)
                    if s.strideW == 1 {
                        copyRun(src + ow0, dst + ow0, ow1 - ow0)
                    } else {
                        let sw = s.strideW
                        for ow in ow0..<ow1 { dst[ow] = src[ow * sw] }
                    }
                    fillZero(dst + ow1, outW - ow1)
                }
                row += ld
            }
        }
    }
}

/// `dst[oh * width + ow] = plane[(oh + rowShift) * width + ow + columnShift]`, 0 where the source
/// is outside the `inHeight x width` plane, for `oh < outHeight`.
private func im2colShiftedPlane(
    _ plane: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, inHeight: Int, width: Int, outHeight: Int,
    rowShift: Int, columnShift: Int
) {
    let oh0 = min(outHeight, max(0, -rowShift))
    let oh1 = max(oh0, min(outHeight, inHeight - rowShift))
    fillZero(dst, oh0 * width)
    fillZero(dst + oh1 * width, (outHeight - oh1) * width)
    if oh1 == oh0 { return }
    // One run over the valid rows; trim the ends so nothing is read outside the plane (those cells
    // are border columns and get zeroed below anyway).
    var start = oh0 * width
    var end = oh1 * width
    let srcBase = rowShift * width + columnShift
    if start + srcBase < 0 { start = -srcBase }
    if end + srcBase > inHeight * width { end = inHeight * width - srcBase }
    if end > start { copyRun(plane + start + srcBase, dst + start, end - start) }
    // Columns whose source wrapped into the neighbouring row (or fell off the plane).
    let zeroLo = min(width, max(0, -columnShift))
    let zeroHi = max(zeroLo, min(width, width - columnShift))
    for oh in oh0..<oh1 {
        let d = dst + oh * width
        for ow in 0..<zeroLo { d[ow] = 0 }
        for ow in zeroHi..<width { d[ow] = 0 }
    }
}

@inline(__always)
private func fillZero(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        UnsafeMutableRawPointer(p + i).storeBytes(of: Vec(), as: Vec.self)
        i += 16
    }
    while i < n {
        p[i] = 0
        i += 1
    }
}

@inline(__always)
private func copyRun(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i + 16 <= n {
        UnsafeMutableRawPointer(dst + i).storeBytes(
            of: UnsafeRawPointer(src + i).loadUnaligned(as: Vec.self), as: Vec.self)
        i += 16
    }
    while i < n {
        dst[i] = src[i]
        i += 1
    }
}

/// Depthwise convolution of one image: each output channel `oc` reads input channel
/// `oc / (outChannels / group)`. Each tap is one long vectorised FMA loop over the input plane's
/// stride phases (`StridePhasePlanes`), the output plane accumulating in the phases' width from the
/// bias, taps in (kh, kw) order (taps over the zero padding add exact zeros), then copied out:
/// depthwise maps are 7-28 wide, too short to vectorise row by row.
private func depthwiseImage(
    _ s: Conv2DShape, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    _ y: UnsafeMutablePointer<Float>, relu: Bool, threads: Int
) {
    let outH = s.outHeight
    let outW = s.outWidth
    guard outH > 0, outW > 0 else { return }
    let kArea = s.kernelH * s.kernelW
    let planes = StridePhasePlanes(s)
    let (wq, length) = (planes.columns, planes.taps)
    let parts = max(1, min(threads, s.outChannels, s.outChannels * outH * outW * kArea / (1 << 15)))
    Parallel.forEach(parts, threads: parts) { part in
        // Every tap loop runs whole vectors: up to 15 elements past `length` are computed and never
        // copied out, reading up to 15 floats past the phases from a zeroed slack (with a scalar
        // tail, the 55-element loops of a 14x14 stride-2 map spent more time in the tail's 7
        // elements than in its 3 vectors).
        let vectorLength = (length + 15) / 16 * 16
        let wideCount = max(outH * wq, vectorLength)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: planes.count + 16 + wideCount) { buffer in
            let phases = buffer.baseAddress!, wide = phases + planes.count + 16
            (phases + planes.count).update(repeating: 0, count: 16)
            var loaded = -1
            for oc in (s.outChannels * part / parts)..<(s.outChannels * (part + 1) / parts) {
                let ic = oc / s.outPerGroup
                if ic != loaded {
                    planes.fill(phases, from: x + ic * s.inHeight * s.inWidth)
                    loaded = ic
                }
                let kernel = w + oc * kArea
                wide.update(repeating: bias?[oc] ?? 0, count: wideCount)
                for kh in 0..<s.kernelH {
                    for kw in 0..<s.kernelW {
                        let wt = kernel[kh * s.kernelW + kw]
                        let src = UnsafePointer(phases + planes.tapOffset(kh, kw))
                        var i = 0
                        while i < length {
                            let v = UnsafeRawPointer(src + i).loadUnaligned(as: Vec.self)
                            let acc = UnsafeRawPointer(wide + i).loadUnaligned(as: Vec.self)
                            UnsafeMutableRawPointer(wide + i).storeBytes(of: acc.addingProduct(v, wt), as: Vec.self)
                            i += 16
                        }
                    }
                }
                let dst = y + oc * outH * outW
                for h in 0..<outH { (dst + h * outW).update(from: wide + h * wq, count: outW) }
                if relu { unary(.relu, dst, count: outH * outW, threads: 1) }
            }
        }
    }
}
