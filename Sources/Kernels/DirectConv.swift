// Direct convolution: no im2col matrix, no GEMM packing. See `conv2d` (Conv2D.swift) for when it
// runs; the tile bodies are generated (Generated/DirectConvKernels.swift, by
// tools/generate/direct-conv-kernels.swift).
//
// Two tile kinds share one weight layout and one "offset table" scheme:
//
// * Weights are repacked to `[group][block of 16 output channels][k][16]`, `k = (c, kh, kw)` over
//   the group's `K = C/group * kH * kW` taps, output channels zero-padded to a multiple of 16.
// * Each image is first rearranged into a workspace buffer in which the input value of tap k for
//   output pixel `p` of a tile sits at `base(tile) + offsets[k] + p` (unit stride in `p`). Every
//   stride, dilation and padding is absorbed by that rearrangement, so the inner loops have no
//   bounds checks and no per-shape arithmetic: one table load per k, constant displacements.
//
// Pixel-major ("PM", the default): accumulators are SIMD16 over output channels; a tile is P
// consecutive output pixels of one row x B channel blocks (P * B <= 28). The buffer is the
// zero-padded image with each padded row split into `strideW` phases
// (`buf[c][row][phase][q] = xpad[c][row][q * strideW + phase]`), so the P pixels of a tile read
// consecutive floats whatever the stride. Per k: B weight vectors, P broadcasts, P * B FMAs,
// i.e. FMA-bound like the GEMM micro-kernel. The finished tile is transposed into NCHW through a
// stack tile (P * B * 16 scalar moves against K * P * B FMAs: ~3% for K = 576, ~6% for K = 288).
//
// Spatial ("SP", for a small reduction depth, e.g. the 1-channel stem): accumulators are SIMD16 over
// 16 consecutive *flattened* output pixels (`oh * outW + ow`) of one output channel. The buffer
// holds, per (kw, row phase), a copy of the padded input sampled at the output grid:
// `buf[kw][ph][c][t][ow] = xpad[c][t * strideH + ph][ow * strideW + kw * dilationW]`; tap
// (c, kh, kw) with `kh * dilationH = qh * strideH + ph` then reads
// `buf[kw][ph][c][(oh + qh) * outW + ow]`, which is contiguous in the flattened pixel index across
// rows. No transpose, full 16-lane vectors even on 7- or 14-wide maps; the copy is kW * strideH
// times the input, cheap only when the channel count is small.

/// Which implementation `conv2d` uses for a shape.
enum ConvAlgorithm {
    case depthwise
    case gemm
    case pixelMajor
    case spatial
}

/// Chooses the algorithm from the geometry alone (never from the batch, so packed weights made
/// for one batch size work for any).
///
/// Measured (2 threads, batch 256, Zen 5; the `conv` benchmarks in Benchmarks/KernelBenchmarks, and
/// the per-shape table in the report of this change): pixel-major direct beats im2col + GEMM on every 3x3 layer of the sample
/// CNN by 1.3-1.8x; the spatial kernel wins for the 1-channel stem (K = 9) where a pixel-major
/// tile would spend more time transposing than multiplying. 1x1 stride-1 unpadded convs stay on
/// the GEMM (the input already is its operand, nothing to rearrange).
func convAlgorithm(_ s: Conv2DShape) -> ConvAlgorithm {
    if s.isDepthwise { return .depthwise }
    if s.isPointwise { return .gemm }
    let k = s.patch
    // The offset tables are Int32; absurdly large images fall back to the GEMM path.
    let geometryFloats = s.inChannels * (s.inHeight + s.padTop + s.padBottom) * (s.inWidth + s.padLeft + s.padRight + s.strideW)
    if geometryFloats > Int(Int32.max) / 4 || s.kernelW * s.strideH * geometryFloats > Int(Int32.max) / 4 {
        return .gemm
    }
    if k <= 32 && s.outHeight * s.outWidth >= 16 { return .spatial }
    return .pixelMajor
}

/// Sizes and strides of the direct convolution's buffers for one shape.
struct DirectConvGeometry {
    let s: Conv2DShape
    let spatial: Bool
    /// Reduction depth per group: `C/group * kH * kW`.
    let k: Int
    /// Blocks of 16 output channels per group.
    let blocks: Int
    // PM buffer: [C][hp][strideW phases][wq].
    let hp: Int
    let wq: Int
    let rowStride: Int
    let planeStride: Int
    // SP buffer: [kW][strideH phases][C][tRows][outW].
    let tRows: Int
    /// Floats of the rearranged input of one image (plus slack for vector over-reads).
    let imageFloats: Int

    init(_ s: Conv2DShape, spatial: Bool) {
        self.s = s
        self.spatial = spatial
        k = s.patch
        blocks = (s.outPerGroup + 15) / 16
        hp = s.inHeight + s.padTop + s.padBottom
        let wp = s.inWidth + s.padLeft + s.padRight
        wq = (wp + s.strideW - 1) / s.strideW
        rowStride = wq * s.strideW
        planeStride = hp * rowStride
        tRows = s.outHeight + (s.kernelH - 1) * s.dilationH / s.strideH
        if spatial {
            imageFloats = s.kernelW * s.strideH * s.inChannels * tRows * s.outWidth + 16
        } else {
            imageFloats = s.inChannels * planeStride
        }
    }

    /// Whether some kernel row reads SP row phase `ph` (`kh * dilationH % strideH == ph`); the
    /// other phases' copies are never read and are not written.
    func usesRowPhase(_ ph: Int) -> Bool {
        for kh in 0..<s.kernelH where kh * s.dilationH % s.strideH == ph { return true }
        return false
    }

    /// Floats of packed weights: `[group][blocks][k][16]`.
    var packedWeightCount: Int { s.group * blocks * k * 16 }
    /// Floats of zero-padded bias: `[group][blocks][16]`.
    var paddedBiasCount: Int { s.group * blocks * 16 }

    /// Fills `offsets[0..<k]` (k = (c, kh, kw) within a group) relative to a tile's base pointer,
    /// then the sentinel `offsets[k] = -1` that ends the tile loops.
    func fillOffsets(_ offsets: UnsafeMutablePointer<Int32>) {
        let cg = s.inPerGroup
        var i = 0
        for c in 0..<cg {
            for kh in 0..<s.kernelH {
                for kw in 0..<s.kernelW {
                    let off: Int
                    if spatial {
                        let rowTap = kh * s.dilationH
                        let ph = rowTap % s.strideH
                        let qh = rowTap / s.strideH
                        let plane = (kw * s.strideH + ph) * s.inChannels + c
                        off = plane * tRows * s.outWidth + qh * s.outWidth
                    } else {
                        let colTap = kw * s.dilationW
                        off = c * planeStride + kh * s.dilationH * rowStride + (colTap % s.strideW) * wq
                            + colTap / s.strideW
                    }
                    offsets[i] = Int32(off)
                    i += 1
                }
            }
        }
        offsets[i] = -1
    }
}

// MARK: - Packing

/// Repacks OIHW weights into `[group][block][k][16]` (zero lanes past the group's channels) for
/// the flattened (group, block) units `units`.
func packDirectConvWeights(
    _ g: DirectConvGeometry, _ w: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, units: Range<Int>
) {
    let k = g.k
    let opg = g.s.outPerGroup
    for gb in units {
        let group = gb / g.blocks
        let block = gb % g.blocks
        let out = dst + gb * k * 16
        let lanes = min(16, opg - block * 16)
        let src = w + (group * opg + block * 16) * k
        var kk = 0
        if lanes == 16 {
            // 16 x 16 blocks through registers (~0.3 cycles per weight; a scalar transpose took ~2,
            // i.e. 5-10 us per 64->64 3x3 layer, as much as the layer's multiplies at batch 1).
            while kk + 16 <= k {
                transpose16x16(src + kk, ld: k, out + kk * 16, ldDst: 16)
                kk += 16
            }
        }
        while kk < k {
            let o = out + kk * 16
            for j in 0..<16 { o[j] = j < lanes ? src[j * k + kk] : 0 }
            kk += 1
        }
    }
}

/// Zero-padded copy of the bias per (group, block).
func padDirectConvBias(_ g: DirectConvGeometry, _ bias: UnsafePointer<Float>?, _ dst: UnsafeMutablePointer<Float>) {
    dst.update(repeating: 0, count: g.paddedBiasCount)
    guard let bias else { return }
    let opg = g.s.outPerGroup
    for group in 0..<g.s.group {
        for oc in 0..<opg {
            dst[(group * g.blocks + oc / 16) * 16 + oc % 16] = bias[group * opg + oc]
        }
    }
}

// MARK: - Input rearrangement

/// Writes the in-range input values of one image into the PM or SP buffer. Every other cell of
/// the buffer (padding) is the same for all images and must already be zero (`update(repeating:)`
/// once per call): writing only the interior keeps this at a few percent of the multiply work
/// (zero-filling 1-float borders row by row cost ~12% on 7x7 maps).
func prepareDirectConvInput(
    _ g: DirectConvGeometry, _ x: UnsafePointer<Float>, _ buf: UnsafeMutablePointer<Float>,
    channels: Range<Int>
) {
    if channels.isEmpty { return }
    let s = g.s
    if g.spatial {
        let ow = s.outWidth
        let plane = g.tRows * ow
        for kw in 0..<s.kernelW {
            let colShift = kw * s.dilationW - s.padLeft
            // Output columns whose tap lands inside the input row: [ow0, ow1).
            let (lo, hi) = tapRange(colShift, ow, s.strideW, s.inWidth)
            let ow0 = min(lo, ow)
            let ow1 = min(hi, ow)
            if ow1 <= ow0 { continue }
            for ph in 0..<s.strideH where g.usesRowPhase(ph) {
                for c in channels {
                    let dstPlane = buf + ((kw * s.strideH + ph) * s.inChannels + c) * plane
                    let srcPlane = x + c * s.inHeight * s.inWidth
                    for t in 0..<g.tRows {
                        let r = t * s.strideH + ph - s.padTop
                        if r < 0 || r >= s.inHeight { continue }
                        let src = srcPlane + r * s.inWidth + colShift
                        let d = dstPlane + t * ow
                        if s.strideW == 1 {
                            copyShort(src + ow0, d + ow0, ow1 - ow0)
                        } else {
                            let sw = s.strideW
                            var i = ow0
                            while i < ow1 {
                                d[i] = src[i &* sw]
                                i &+= 1
                            }
                        }
                    }
                }
            }
        }
        return
    }
    let w = s.inWidth
    let sw = s.strideW
    let rs = g.rowStride
    if sw == 1 {
        for c in channels {
            let srcPlane = x + c * s.inHeight * w
            let dstPlane = buf + c * g.planeStride + s.padTop * rs + s.padLeft
            for r in 0..<s.inHeight {
                copyShort(srcPlane + r * w, dstPlane + r * rs, w)
            }
        }
        return
    }
    // Strided: split every padded row into phases straight from the input. A first version padded
    // each row into a scratch row and split that: the 64-byte loads over several pending smaller
    // stores stalled on store-to-load forwarding (18% of the 32->64 s2 layer); per-cell loops with
    // index arithmetic cost ~20%. Stride 2 takes 16 padded columns per vector load, zeroes the
    // padding lanes with a mask and splits them with even/odd shuffles; the remaining cells of a row
    // follow a (destination, source) list that is the same for every row.
    let imageEnd = s.inChannels * s.inHeight * w
    let wq = g.wq
    // Full vector chunks per row: 16 padded columns -> 8 cells of each of the 2 phases.
    let chunks = sw == 2 ? wq / 8 : 0
    withUnsafeTemporaryAllocation(of: UVec.self, capacity: max(1, chunks)) { masks in
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * rs) { cells in
            // Lane masks (all ones where the padded column is an input column) per chunk, built
            // with scalar code: SIMD integer compares and mask ORs compile lane by lane.
            for chunk in 0..<chunks {
                var mask = UVec()
                for lane in 0..<16 {
                    let col = chunk * 16 + lane - s.padLeft
                    mask[lane] = col >= 0 && col < w ? 0xFFFF_FFFF : 0
                }
                masks[chunk] = mask
            }
            // Cells after the chunks: (phase-row index, padded column) of every input column.
            var tail = 0
            for col in (chunks * 16)..<rs where col - s.padLeft >= 0 && col - s.padLeft < w {
                cells[2 * tail] = (col % sw) * wq + col / sw
                cells[2 * tail + 1] = col
                tail += 1
            }
            // Rows whose vector loads stay inside the image; the others go cell by cell.
            let span = chunks * 16
            for c in channels {
                let dPlane = buf + c * g.planeStride + s.padTop * rs
                for r in 0..<s.inHeight {
                    // Image index of padded column 0 of this row.
                    let base = (c * s.inHeight + r) * w - s.padLeft
                    let d = dPlane + r * rs
                    if base >= 0 && base + span <= imageEnd {
                        var chunk = 0
                        while chunk < chunks {
                            let raw = UnsafeRawPointer(x + base + chunk * 16).loadUnaligned(as: UVec.self)
                            let v = fromBits(raw & masks[chunk])
                            // Lanes spelled out (one permute each); `evenHalf`/`oddHalf` can stay calls.
                            let evens = SIMD8(v[0], v[2], v[4], v[6], v[8], v[10], v[12], v[14])
                            let odds = SIMD8(v[1], v[3], v[5], v[7], v[9], v[11], v[13], v[15])
                            UnsafeMutableRawPointer(d + chunk * 8).storeBytes(of: evens, as: SIMD8<Float>.self)
                            UnsafeMutableRawPointer(d + wq + chunk * 8).storeBytes(of: odds, as: SIMD8<Float>.self)
                            chunk += 1
                        }
                        var i = 0
                        while i < tail {
                            d[cells[2 * i]] = x[base + cells[2 * i + 1]]
                            i += 1
                        }
                    } else {
                        for col in 0..<rs where col - s.padLeft >= 0 && col - s.padLeft < w {
                            d[(col % sw) * wq + col / sw] = x[base + col]
                        }
                    }
                }
            }
        }
    }
}

// MARK: - Tiles

/// Blocks per pixel-major channel tile: as many as fit (up to 4), balanced over the tiles.
func pmBlocksPerTile(blocks: Int, maxBlocks: Int = 4) -> Int {
    let tiles = (blocks + maxBlocks - 1) / maxBlocks
    return (blocks + tiles - 1) / tiles
}

/// Pixel vectors of the SP kernel per image: `ceil(outH * outW / 16)` (the last one overlaps the one
/// before it when the count is not a multiple of 16).
func spVectorCount(_ s: Conv2DShape) -> Int { (s.outHeight * s.outWidth + 15) / 16 }

/// The part of one image's output that one thread computes: channel units (flattened
/// (group, 16-channel block)) x output rows (PM) or pixel vectors (SP).
struct DirectConvRegion {
    var units: Range<Int>
    var span: Range<Int>
}

/// Computes `region` of one image. `buf` is the image's rearranged input, `w` / `bias` the packed
/// weights and padded bias (all units), `y` the image's output, `tile` 28 * 16 floats of scratch.
/// The next image of this thread: while the current one is convolved, its input and output lines
/// are prefetched into L2 and its input is rearranged a few channels at a time between tiles.
///
/// Why: at batch 256 the layer's tensors (6.4 MB) do not stay in this VM's share of L3, so the
/// rearranging copy waited on DRAM (6% of a stride-1 layer, 18% of the stride-2 one) and the tile
/// stores on write misses. Prefetches issued a tile or more ahead hide that latency behind the
/// multiply work (demand loads cannot: a missing load blocks retirement after ~300 micro-ops).
struct DirectConvPrefetch {
    var input: UnsafePointer<Float>
    var inputCount: Int
    var output: UnsafeMutablePointer<Float>
    var outputCount: Int
    var buf: UnsafeMutablePointer<Float>
}

func runDirectConvRegion(
    _ g: DirectConvGeometry, _ region: DirectConvRegion, buf: UnsafePointer<Float>, offsets: UnsafePointer<Int32>,
    w: UnsafePointer<Float>, bias: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool, tile: UnsafeMutablePointer<Float>, next: DirectConvPrefetch?
) {
    let s = g.s
    let outHW = s.outHeight * s.outWidth
    let k = g.k
    // Tiles of this region (an upper bound for SP). Over the first half the next image's input
    // (and over all of them its output) is prefetched; over the second half its channels are
    // rearranged.
    let tiles = max(2, region.units.count * region.span.count * (g.spatial ? 1 : (s.outWidth + 13) / 14))
    let half = tiles / 2
    var tileIndex = 0
    var prepared = 0
    var inputLine = 0
    var outputLine = 0
    @inline(__always) func afterTile() {
        guard let next else { return }
        tileIndex += 1
        let inputLines = (next.inputCount + 15) / 16
        let inputUpTo = tileIndex >= half ? inputLines : inputLines * tileIndex / half
        while inputLine < inputUpTo {
            prefetchForRead(next.input + inputLine * 16)
            inputLine += 1
        }
        let outputLines = (next.outputCount + 15) / 16
        let outputUpTo = min(outputLines, outputLines * tileIndex / tiles)
        while outputLine < outputUpTo {
            prefetchForWrite(next.output + outputLine * 16)
            outputLine += 1
        }
        if tileIndex > half {
            let upTo = min(s.inChannels, s.inChannels * (tileIndex - half) / (tiles - half))
            if upTo > prepared {
                prepareDirectConvInput(g, next.input, next.buf, channels: prepared..<upTo)
                prepared = upTo
            }
        }
    }
    defer {
        if let next { prepareDirectConvInput(g, next.input, next.buf, channels: prepared..<s.inChannels) }
    }
    if region.span.isEmpty { return }
    if g.spatial {
        for u in region.units {
            let group = u / g.blocks
            let block = u % g.blocks
            let channels = min(16, s.outPerGroup - block * 16)
            let x = buf + group * s.inPerGroup * g.tRows * s.outWidth
            let wb = w + u * k * 16
            let ybOffset = (group * s.outPerGroup + block * 16) * outHW
            // The block's channels in balanced chunks of at most spMaxChannels(3) (register budget:
            // see tools/generate/direct-conv-kernels.swift); chunk channels start at lane r0 of the
            // packed weights.
            let maxR = spMaxChannels(3)
            let chunks = (channels + maxR - 1) / maxR
            for chunk in 0..<chunks {
                let r0 = channels * chunk / chunks
                let r = channels * (chunk + 1) / chunks - r0
                let wc = wb + r0
                let cOffset = ybOffset + r0 * outHW
                var st = SPStore(
                    y: y + cOffset, channelStride: outHW, bias: bias + u * 16 + r0, relu: relu, lanes: 16,
                    residual: residual.map { $0 + cOffset }, tile: tile)
                if outHW < 16 {
                    st.lanes = outHW
                    spTile(r: r, q: 1, x: x, offsets: offsets, w: wc, st)
                    afterTile()
                    continue
                }
                var v = region.span.lowerBound
                let vEnd = region.span.upperBound
                while v < vEnd {
                    // Full vectors in groups of up to 3; the last (possibly overlapping) one alone.
                    let p0 = min(v * 16, outHW - 16)
                    var n = min(3, vEnd - v)
                    while n > 1 && (v + n) * 16 > outHW { n -= 1 }
                    st.y = y + cOffset + p0
                    st.residual = residual.map { $0 + cOffset + p0 }
                    spTile(r: r, q: n, x: x + p0, offsets: offsets, w: wc, st)
                    afterTile()
                    v += n
                }
            }
        }
        return
    }
    let ow = s.outWidth
    var u = region.units.lowerBound
    while u < region.units.upperBound {
        let group = u / g.blocks
        let groupEnd = min(region.units.upperBound, (group + 1) * g.blocks)
        let perTile = pmBlocksPerTile(blocks: groupEnd - u, maxBlocks: pixelMajorMaxBlocksPerTile)
        let xGroup = buf + group * s.inPerGroup * g.planeStride
        while u < groupEnd {
            let nb = min(perTile, groupEnd - u)
            let b0 = u - group * g.blocks
            let maxP = pmMaxPixels(nb)
            let chunks = (ow + maxP - 1) / maxP
            var st = PMStore(
                y: y, channelStride: outHW, channels: min(nb * 16, s.outPerGroup - b0 * 16), bias: bias + u * 16,
                relu: relu, tile: tile, residual: nil)
            let yTile = (group * s.outPerGroup + b0 * 16) * outHW
            let wTile = w + u * k * 16
            for oh in region.span {
                let xRow = xGroup + oh * s.strideH * g.rowStride
                for c in 0..<chunks {
                    let o0 = ow * c / chunks
                    let o1 = ow * (c + 1) / chunks
                    st.y = y + yTile + oh * ow + o0
                    st.residual = residual.map { $0 + yTile + oh * ow + o0 }
                    pmTile(p: o1 - o0, b: nb, x: xRow + o0, offsets: offsets, w: wTile, wStride: k * 16, st)
                    afterTile()
                }
            }
            u += nb
        }
    }
}

/// Most 16-channel output blocks one pixel-major tile accumulates at a time.
let pixelMajorMaxBlocksPerTile = 4

// MARK: - Driver

/// Whether images are split over threads (each thread rearranges and convolves whole images) or
/// every image is split over threads by output channels or rows.
func directConvImageParallel(_ s: Conv2DShape, threads: Int) -> Bool {
    threads >= 2 && s.batch >= 2 && (s.batch % threads == 0 || s.batch >= 8 * threads)
}

/// Input buffers the direct path uses: per thread one, or two (current and next image) when a
/// thread convolves several images.
private func directConvBuffers(_ s: Conv2DShape, threads: Int) -> Int {
    let parts = directConvImageParallel(s, threads: threads) ? min(threads, s.batch) : max(1, threads)
    let perPart = directConvImageParallel(s, threads: threads) ? (s.batch > parts ? 2 : 1) : (s.batch > 1 ? 2 : 1)
    return parts * perPart
}

/// Workspace floats of the direct path: packed weights, padded bias, then one input buffer per
/// thread; with a fused pool (`pooled`) also one image's convolution output per thread.
func directConvWorkspaceCount(_ s: Conv2DShape, threads: Int, spatial: Bool, pooled: Bool = false) -> Int {
    let g = DirectConvGeometry(s, spatial: spatial)
    let scratch = pooled ? min(threads, s.batch) * s.outChannels * s.outHeight * s.outWidth : 0
    return g.packedWeightCount + g.paddedBiasCount + directConvBuffers(s, threads: threads) * g.imageFloats + scratch
}

/// A max pool applied to each image's convolution output while it is in cache (`conv2dMaxPool`):
/// `shape` is the pool of one image (batch 1); image `n`'s pooled map goes to
/// `output + n * channels * outHeight * outWidth`. `scratch` holds one image's convolution output:
/// `directConv` replaces it per worker by a slice of its workspace, so callers may pass any pointer.
struct DirectConvPool {
    var shape: Pool2DShape
    var output: UnsafeMutablePointer<Float>
    var scratch: UnsafeMutablePointer<Float>
}

/// How one image is split over `parts` threads when images are not.
private struct ImageSplit {
    var parts: Int
    /// Split by output-channel units (each part packs its own weights) rather than by rows.
    var byChannels: Bool

    init(_ g: DirectConvGeometry, threads: Int) {
        let s = g.s
        let units = s.group * g.blocks
        let span = g.spatial ? spVectorCount(s) : s.outHeight
        // A fork-join plus moving the input to the other core costs ~1-2 us: small convs stay on
        // one thread (measured break-even near 2e5 multiply-adds per image).
        let macs = s.outChannels * s.outHeight * s.outWidth * g.k
        parts = max(1, min(threads, macs / 100_000))
        if parts > 1 && units % parts != 0 && units < 4 * parts && span >= 2 * parts {
            byChannels = false
        } else {
            byChannels = true
            parts = min(parts, units)
        }
    }

    func region(_ g: DirectConvGeometry, part: Int) -> DirectConvRegion {
        let units = g.s.group * g.blocks
        let span = g.spatial ? spVectorCount(g.s) : g.s.outHeight
        if byChannels {
            return DirectConvRegion(units: (units * part / parts)..<(units * (part + 1) / parts), span: 0..<span)
        }
        return DirectConvRegion(units: 0..<units, span: (span * part / parts)..<(span * (part + 1) / parts))
    }
}

/// Direct convolution. `packed` holds weights packed by `packDirectConvWeights` or is nil, in
/// which case `weight` (OIHW) is packed into the start of `workspace`. The rest of `workspace`
/// holds the padded bias and the per-thread input buffers (`directConvWorkspaceCount`).
func directConv(
    _ g: DirectConvGeometry, input: UnsafePointer<Float>, packed: UnsafePointer<Float>?, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutablePointer<Float>, threads: Int, pool: DirectConvPool? = nil,
    offsets cachedOffsets: UnsafePointer<Int32>? = nil
) {
    precondition(pool == nil || (residual == nil && g.s.batch >= 2), "directConv: a fused pool needs images and no residual")
    let s = g.s
    let biasPad = workspace + g.packedWeightCount
    padDirectConvBias(g, bias, biasPad)
    let biasP = UnsafePointer(biasPad)
    let buffers = biasPad + g.paddedBiasCount
    let w = packed ?? UnsafePointer(workspace)
    let inImage = s.inChannels * s.inHeight * s.inWidth
    let outImage = s.outChannels * s.outHeight * s.outWidth
    let units = s.group * g.blocks
    // The offset table (`fillOffsets`) comes with packed weights; filling it costs ~0.5 us for a
    // 576-step layer, noticeable at batch 1.
    if let cachedOffsets {
        run(cachedOffsets)
    } else {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: g.k + 1) { offsetBuffer in
            g.fillOffsets(offsetBuffer.baseAddress!)
            run(UnsafePointer(offsetBuffer.baseAddress!))
        }
    }
    func run(_ offsets: UnsafePointer<Int32>) {
        // A fused pool always splits images (with one thread: one worker takes them all).
        if pool != nil || directConvImageParallel(s, threads: threads) {
            let workers = min(threads, s.batch)
            if packed == nil {
                Parallel.forEach(workers, threads: workers) { part in
                    packDirectConvWeights(
                        g, weight, workspace, units: (units * part / workers)..<(units * (part + 1) / workers))
                }
            }
            let all = DirectConvRegion(units: 0..<units, span: 0..<(g.spatial ? spVectorCount(s) : s.outHeight))
            let perPart = s.batch > workers ? 2 : 1
            Parallel.forEach(workers, threads: workers) { part in
                let first = s.batch * part / workers
                let end = s.batch * (part + 1) / workers
                // With a fused pool each worker convolves into its own one-image scratch (after the
                // input buffers), which stays in its core's cache until it is pooled.
                let pooled = pool.map {
                    DirectConvPool(shape: $0.shape, output: $0.output,
                                   scratch: buffers + workers * perPart * g.imageFloats + part * outImage)
                }
                runImages(
                    g, first..<end, all, input: input, inImage: inImage, output: output, outImage: outImage,
                    buffers: buffers + part * perPart * g.imageFloats, double: perPart == 2, offsets: offsets, w: w,
                    bias: biasP, residual: residual, relu: relu, pool: pooled)
            }
            return
        }
        let split = ImageSplit(g, threads: threads)
        if packed == nil && !split.byChannels {
            Parallel.forEach(split.parts, threads: split.parts) { part in
                packDirectConvWeights(
                    g, weight, workspace, units: (units * part / split.parts)..<(units * (part + 1) / split.parts))
            }
        }
        // One fork for the whole call: every part rearranges the full image into its own buffer
        // (cheaper than a second fork-join and keeps the buffer in that core's cache) and, when
        // split by channels, packs its own weights.
        Parallel.forEach(split.parts, threads: split.parts) { part in
            let region = split.region(g, part: part)
            if packed == nil && split.byChannels {
                packDirectConvWeights(g, weight, workspace, units: region.units)
            }
            let perPart = s.batch > 1 ? 2 : 1
            runImages(
                g, 0..<s.batch, region, input: input, inImage: inImage, output: output, outImage: outImage,
                buffers: buffers + part * perPart * g.imageFloats, double: perPart == 2, offsets: offsets, w: w,
                bias: biasP, residual: residual, relu: relu)
        }
    }
}

/// One thread's share: `region` of every image in `images`, rearranging image n + 1 into the
/// second buffer while image n is convolved (`double`).
private func runImages(
    _ g: DirectConvGeometry, _ images: Range<Int>, _ region: DirectConvRegion, input: UnsafePointer<Float>,
    inImage: Int, output: UnsafeMutablePointer<Float>, outImage: Int, buffers: UnsafeMutablePointer<Float>,
    double: Bool, offsets: UnsafePointer<Int32>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    residual: UnsafePointer<Float>?, relu: Bool, pool: DirectConvPool? = nil
) {
    if images.isEmpty { return }
    let pooledImage = pool.map { $0.shape.channels * $0.shape.outHeight * $0.shape.outWidth } ?? 0
    buffers.update(repeating: 0, count: (double ? 2 : 1) * g.imageFloats)
    prepareDirectConvInput(g, input + images.lowerBound * inImage, buffers, channels: 0..<g.s.inChannels)
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 28 * 16) { tile in
        for n in images {
            let current = buffers + (double ? (n - images.lowerBound) % 2 : 0) * g.imageFloats
            var next: DirectConvPrefetch? = nil
            if n + 1 < images.upperBound {
                let nextOutput = pool.map { $0.output + (n + 1) * pooledImage } ?? output + (n + 1) * outImage
                next = DirectConvPrefetch(
                    input: input + (n + 1) * inImage, inputCount: inImage, output: nextOutput,
                    outputCount: pool == nil ? outImage : pooledImage,
                    buf: buffers + (double ? (n + 1 - images.lowerBound) % 2 : 0) * g.imageFloats)
            }
            let y = pool?.scratch ?? output + n * outImage
            runDirectConvRegion(
                g, region, buf: current, offsets: offsets, w: w, bias: bias,
                y: y, residual: residual.map { $0 + n * outImage },
                relu: relu, tile: tile.baseAddress!, next: next)
            if let pool {
                maxPool2d(pool.shape, input: pool.scratch, output: pool.output + n * pooledImage, threads: 1)
            }
        }
    }
}

/// Copies `n` floats with vector moves, the last one overlapping (rows here are often 7-28 long,
/// where a scalar tail costs more than the copy).
@inline(__always)
private func copyShort(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    if n >= 16 {
        var i = 0
        while i + 16 <= n {
            moveVector(Vec.self, src + i, dst + i)
            i += 16
        }
        if i < n { moveVector(Vec.self, src + n - 16, dst + n - 16) }
    } else if n >= 8 {
        moveVector(SIMD8<Float>.self, src, dst)
        moveVector(SIMD8<Float>.self, src + n - 8, dst + n - 8)
    } else if n >= 4 {
        moveVector(SIMD4<Float>.self, src, dst)
        moveVector(SIMD4<Float>.self, src + n - 4, dst + n - 4)
    } else {
        for i in 0..<n { dst[i] = src[i] }
    }
}

@inline(__always)
private func moveVector<V: SIMD>(_: V.Type, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>)
where V.Scalar == Float {
    UnsafeMutableRawPointer(dst).storeBytes(of: UnsafeRawPointer(src).loadUnaligned(as: V.self), as: V.self)
}

// MARK: - Prefetch

/// LLVM's prefetch intrinsic (`prefetcht1` / `prefetchw`), which Swift does not expose. Declaring
/// the intrinsic by its LLVM name is an underscored-attribute hack: if a toolchain ever stops
/// lowering it, the build fails at link time (undefined `llvm.prefetch.p0`), it cannot silently
/// misbehave. Arguments: address, rw (0 read, 1 write), locality (0-3), cache type (1 data).
@_silgen_name("llvm.prefetch.p0")
private func llvmPrefetch(_ address: UnsafeRawPointer, _ rw: Int32, _ locality: Int32, _ cacheType: Int32)

/// Hints the line holding `p` into L2 (locality 2 = `prefetcht1`: not L1, which the tile loops
/// are using).
@inline(__always)
func prefetchForRead(_ p: UnsafePointer<Float>) { llvmPrefetch(UnsafeRawPointer(p), 0, 2, 1) }

/// Hints the line holding `p` into the cache in a writable state (`prefetchw`).
@inline(__always)
func prefetchForWrite(_ p: UnsafeMutablePointer<Float>) { llvmPrefetch(UnsafeRawPointer(p), 1, 2, 1) }
