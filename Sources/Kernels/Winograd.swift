import Synchronization

// Winograd convolution F(m x m, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) for 3x3, stride-1, undilated, ungrouped convolutions, with output tiles of
// m = 2 or m = 4.
//
// Each m x m block of outputs ("tile") of one output channel is computed from the α x α input
// patch under it (α = m + 2) as `Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A`: α² multiplies per
// (tile, channel pair) instead of 9m². F(2x2, 3x3) does 16 instead of 36 (2.25x fewer),
// F(4x4, 3x3) 36 instead of 144 (4x fewer), both fewer on maps whose last tiles are partly outside.
// With the α² element positions ξ of the transformed tiles split out, the channel sums are α²
// independent matrix products `M[ξ] = V[ξ] · U[ξ]` (`[tiles x C] · [C x K]`), which the
// register-blocked kernels of WinogradKernels.swift compute.
//
// Work is done per chunk of a few images, sized so that the chunk's transformed input V and
// product M stay in the core's L2 cache: (1) the chunk's input is copied into a zero-padded
// channels-last buffer (so the transforms work on 16 channels per vector), (2) input transform into
// V `[α²][rows][Cpad]`, (3) the α² products into M `[α²][rows][Kpad]`, (4) output transform into a
// channels-last staging plane per image and 16 channels, then + bias, + residual, ReLU on the way
// to NCHW through 16x16 transposes (steps 1 and 4 move whole vectors: written element by element,
// the output transform and its scatter took 27% of a sample-CNN pass). Chunks are split over
// threads. The transforms of each tile size are in WinogradTransforms2x2.swift and
// WinogradTransforms4x4.swift.
//
// Accuracy: F(2x2)'s transforms only add, subtract and halve, so its error is that of float32 sums
// of about 4x more terms of similar size than the direct sum. F(4x4)'s use the points 0, ±1, ±2, ∞
// (coefficients up to 8 and down to 1/24), so its rounding error grows with them; on the test
// shapes (Conv2DTests) both stay within the direct kernels' tolerance (1e-5 relative + 2e-6 per
// summed term), and the sample CNN keeps its 1e-4 relative logit parity with ONNX Runtime.

/// Whether `s` has the geometry the Winograd convolutions handle and enough channels for their
/// transforms to pay off (measured: below 16 input or output channels the direct kernels win),
/// whatever the policy. Workspace sizes and packed weights go by this, so that any policy can run
/// with them.
func winogradGeometryFits(_ s: Conv2DShape) -> Bool {
    s.kernelH == 3 && s.kernelW == 3 && s.strideH == 1 && s.strideW == 1 && s.dilationH == 1 && s.dilationW == 1
        && s.group == 1 && s.inChannels >= 16 && s.outChannels >= 16 && s.outHeight >= 2 && s.outWidth >= 2
}

/// Process-wide choices of convolution algorithm.
public enum ConvolutionOptions {
    /// When eligible 3x3 convolutions use Winograd, and with which output tile.
    public enum WinogradPolicy: Int, Sendable {
        /// Where it measured faster on this machine kind, with the tile that measured fastest
        /// (`winogradTile(for:)`).
        case auto
        /// F(2x2, 3x3) for every eligible convolution (tests, experiments).
        case f2x2
        /// F(4x4, 3x3) for every eligible convolution (tests, experiments).
        case f4x4
        /// Never: every convolution sums its terms directly (float32 rounding closest to a
        /// direct reference).
        case never
    }

    /// Read when a convolution starts, on the calling thread. Default `.auto`. Task-local: set it
    /// with `ConvolutionOptions.$winograd.withValue(.f4x4) { ... }` for the convolutions that code
    /// runs; other tasks and threads keep theirs (a process-wide switch flipped by one test changed
    /// the algorithm of convolutions other tests were running).
    @TaskLocal public static var winograd: WinogradPolicy = .auto
}

/// Output tile edges the Winograd convolutions implement.
let winogradTiles = [2, 4]

/// Sizes of the Winograd buffers for one shape and output tile.
struct WinogradGeometry {
    let s: Conv2DShape
    /// Output tile edge m (2 or 4).
    let tile: Int
    /// Tiles per image along each axis (the last may be partly outside the output).
    let tilesH: Int
    let tilesW: Int
    let tilesPerImage: Int
    /// Input and output channels rounded up to whole vectors.
    let cPad: Int
    let kPad: Int
    /// Channels-last padded input buffer, per image: `[bufH][bufW][cPad]`.
    let bufH: Int
    let bufW: Int
    let imagesPerChunk: Int
    /// Rows (tiles) of V and M per chunk, rounded up to whole 4-row blocks (`winogradRows`).
    let rows: Int

    /// Bytes of V + M a chunk aims at (it may take up to 1.5x this to fill whole row blocks): with
    /// the transformed weights (256 KiB for 64 -> 64 channels in F(2x2), 576 KiB in F(4x4)) and the
    /// input buffer, a chunk stays about inside a core's 1 MiB L2 (1 MiB chunks measured 20% slower
    /// on two threads).
    static let chunkBytes = 3 << 17

    init(_ s: Conv2DShape, tile: Int) {
        precondition(winogradTiles.contains(tile), "Winograd: no F(\(tile)x\(tile), 3x3)")
        self.s = s
        self.tile = tile
        tilesH = (s.outHeight + tile - 1) / tile
        tilesW = (s.outWidth + tile - 1) / tile
        tilesPerImage = tilesH * tilesW
        cPad = (s.inChannels + 15) / 16 * 16
        kPad = (s.outChannels + 15) / 16 * 16
        bufH = tile * tilesH + 2
        bufW = tile * tilesW + 2
        let perImage = (tile + 2) * (tile + 2) * tilesPerImage * (cPad + kPad) * 4
        let fit = max(1, Self.chunkBytes / max(perImage, 1))
        // From half to one and a half times what fits, the chunk whose rows leave the fewest to the
        // 4-row tail kernels (which do 16 multiply-adds per 8 loads against 24 per 10): rows past
        // a multiple of 12 go to them. The sample CNN's 64-channel 7x7 layers (4 tiles per image):
        // 3 images (12 rows, none in the tail) instead of 5 (20 rows, 8 in the tail).
        var best = min(s.batch, fit)
        var bestTail = Double.infinity
        for images in stride(from: min(s.batch, fit + fit / 2), through: max(1, min(s.batch, fit / 2)), by: -1) {
            let rows = winogradRows(images * tilesPerImage)
            let tail = Double(rows % 12) / Double(rows)
            if tail < bestTail - 1e-9 { (best, bestTail) = (images, tail) }
        }
        imagesPerChunk = best
        rows = winogradRows(tilesPerImage * imagesPerChunk)
    }

    /// Transformed tile edge α = m + 2.
    var alpha: Int { tile + 2 }
    /// Transformed element positions ξ: α².
    var positions: Int { alpha * alpha }
    var bufferFloats: Int { imagesPerChunk * bufH * bufW * cPad }
    /// Floats from one ξ plane of V (`[rows][cPad]`) to the next, and of M (`[rows][kPad]`): one
    /// cache line more than the plane. The transforms touch all α² planes per tile; with planes of a
    /// power-of-two size (32 rows of 32 channels: 4 KiB) every one of those 36 lines fell into the
    /// same L1 set.
    var vPlaneStride: Int { rows * cPad + 16 }
    var mPlaneStride: Int { rows * kPad + 16 }
    var transformedInputFloats: Int { positions * vPlaneStride }
    var productFloats: Int { positions * mPlaneStride }
    /// The transforms' scratch: one tile's α² vectors of 16 channels and 16 output pixels of 16
    /// channels (`transformScratchFloats`), then one image's output plane of 16 channels
    /// (`[outH * outW][16]`, staged before it goes to NCHW) and a 16 x 16 transpose block.
    var scratchFloats: Int { transformScratchFloats + stagingFloats + 256 }
    var transformScratchFloats: Int { positions * 16 + 256 }
    var stagingFloats: Int { s.outHeight * s.outWidth * 16 }
    /// Workspace of one worker (plus slack for the 16-float over-read of the last vector).
    var workerFloats: Int { bufferFloats + transformedInputFloats + productFloats + scratchFloats + 16 }
    /// Floats of transformed weights: `U[α²][C][kPad]`.
    var weightFloats: Int { positions * s.inChannels * kPad }
    var chunks: Int { (s.batch + imagesPerChunk - 1) / imagesPerChunk }
    /// Workers of the chunk split (a single chunk is split by channels or tiles over all `threads`).
    func workers(threads: Int) -> Int { chunks < threads ? threads : max(1, min(threads, chunks)) }
}

/// Floats of workspace a Winograd convolution of `s` needs with any tile: the transformed weights
/// (for the unpacked `conv2d` overload) and every worker's buffers.
func winogradWorkspaceCount(_ s: Conv2DShape, threads: Int) -> Int {
    winogradTiles.map { tile in
        let g = WinogradGeometry(s, tile: tile)
        return g.weightFloats + g.workerFloats * g.workers(threads: threads)
    }.max()!
}

/// The filter transform G of F(m x m, 3x3) (α x 3, row-major): F(2x2) evaluates at 0, ±1, ∞,
/// F(4x4) at 0, ±1, ±2, ∞ (Lavin & Gray's matrices).
private func filterTransform(tile: Int) -> [Double] {
    if tile == 2 { return [1, 0, 0, 0.5, 0.5, 0.5, 0.5, -0.5, 0.5, 0, 0, 1] }
    let sixth = 1.0 / 6, twelfth = 1.0 / 12, twentyFourth = 1.0 / 24
    let rows: [[Double]] = [
        [0.25, 0, 0], [-sixth, -sixth, -sixth], [-sixth, sixth, -sixth],
        [twentyFourth, twelfth, sixth], [twentyFourth, -twelfth, sixth], [0, 0, 1],
    ]
    return rows.flatMap { $0 }
}

/// Transforms OIHW 3x3 weights into `u[ξ][c][k]` (`k` padded with zeros to `kPad`): `U = G g Gᵀ`,
/// computed in double and rounded once, 8 output channels per vector (the reverse mode transforms
/// each probe's weights on every call, so this runs often).
func packWinogradWeights(_ g: WinogradGeometry, _ weight: UnsafePointer<Float>, _ u: UnsafeMutablePointer<Float>) {
    typealias Lanes = SIMD8<Double>
    let s = g.s, alpha = g.alpha
    let gm = filterTransform(tile: g.tile)
    u.initialize(repeating: 0, count: g.weightFloats)
    // t = G g (α x 3 vectors of 8 channels), then U[i][j] = row i of t · row j of G.
    var t = [Lanes](repeating: .zero, count: alpha * 3)
    var w = [Lanes](repeating: .zero, count: 9)
    for c in 0..<s.inChannels {
        for k0 in stride(from: 0, to: s.outChannels, by: 8) {
            let lanes = min(8, s.outChannels - k0)
            for j in 0..<9 {
                var v = Lanes.zero
                for l in 0..<lanes { v[l] = Double(weight[((k0 + l) * s.inChannels + c) * 9 + j]) }
                w[j] = v
            }
            for i in 0..<alpha {
                for col in 0..<3 {
                    t[i * 3 + col] = gm[i * 3] * w[col] + gm[i * 3 + 1] * w[3 + col] + gm[i * 3 + 2] * w[6 + col]
                }
            }
            for i in 0..<alpha {
                for j in 0..<alpha {
                    let value = t[i * 3] * gm[j * 3] + t[i * 3 + 1] * gm[j * 3 + 1] + t[i * 3 + 2] * gm[j * 3 + 2]
                    let out = u + ((i * alpha + j) * s.inChannels + c) * g.kPad + k0
                    if lanes == 8 {
                        UnsafeMutableRawPointer(out).storeBytes(of: SIMD8<Float>(value), as: SIMD8<Float>.self)
                    } else {
                        for l in 0..<lanes { out[l] = Float(value[l]) }
                    }
                }
            }
        }
    }
}

/// F(m x m, 3x3) convolution of `g.s` with transformed weights `u` (`packWinogradWeights` for the
/// same tile): same contract as `conv2d` (bias, then residual, then ReLU). `workspace`: at least
/// `g.workerFloats * g.workers(threads:)` floats.
///
/// Chunks of images are split over threads; a batch with fewer chunks than threads (one image)
/// is split by output channels instead (each worker copies and transforms the whole image and
/// multiplies and writes back its share of the channels), or, with only 16 output channels, by
/// tiles.
func winogradConv(
    _ g: WinogradGeometry, input: UnsafePointer<Float>, u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutablePointer<Float>, threads: Int
) {
    let chunks = g.chunks
    let workers = g.workers(threads: threads)
    let blockCount = g.kPad / 16
    // A batch of fewer chunks than threads (a single image) is split by output channel blocks:
    // every worker transforms the whole input and multiplies and writes back its own channels.
    // With a single block of 16 channels it is split by tiles instead.
    let split = chunks < threads
    let channelSplit = split && blockCount >= 2
    let tileSplit = split && !channelSplit
    // Bias by 16-channel vector, zero past the last channel.
    var biasVectors = [SIMD16<Float>](repeating: .zero, count: blockCount)
    if let bias {
        for k in 0..<g.s.outChannels { biasVectors[k / 16][k % 16] = bias[k] }
    }
    biasVectors.withUnsafeBufferPointer { biasBuffer in
        let biasLanes = UnsafeRawPointer(biasBuffer.baseAddress!).assumingMemoryBound(to: Float.self)
        Parallel.forEach(workers, threads: workers) { worker in
            let buffer = workspace + worker * g.workerFloats
            let v = buffer + g.bufferFloats
            let m = v + g.transformedInputFloats
            let scratch = m + g.productFloats
            let staging = scratch + g.transformScratchFloats
            let chunkRange = split ? 0..<chunks : (chunks * worker / workers)..<(chunks * (worker + 1) / workers)
            let blocks = channelSplit
                ? (blockCount * worker / workers)..<(blockCount * (worker + 1) / workers) : 0..<blockCount
            if blocks.isEmpty { return }
            for chunk in chunkRange {
                let first = chunk * g.imagesPerChunk
                let images = min(g.imagesPerChunk, g.s.batch - first)
                let all = images * g.tilesPerImage
                let tiles = tileSplit ? (all * worker / workers)..<(all * (worker + 1) / workers) : 0..<all
                if tiles.isEmpty { continue }
                let rows = winogradRows(tiles.count)
                winogradFillBuffer(g, input: input, firstImage: first, images: images, buffer: buffer, block: scratch)
                if g.tile == 2 {
                    winogradInputTransform2x2(g, tiles: tiles, buffer: UnsafePointer(buffer), v: v)
                } else {
                    winogradInputTransform4x4(
                        g, tiles: tiles, buffer: UnsafePointer(buffer), v: v, scratch: scratch)
                }
                // The rows past the tiles, up to a whole 4-row block, are multiplied too: zeros.
                for xi in 0..<g.positions {
                    (v + xi * g.vPlaneStride + tiles.count * g.cPad).update(
                        repeating: 0, count: (rows - tiles.count) * g.cPad)
                }
                winogradProducts(g, rows: rows, blocks: blocks, v: UnsafePointer(v), u: u, m: m)
                let product = UnsafePointer(m)
                if tileSplit {
                    // Part of an image: each tile goes straight to NCHW.
                    let sink = WinogradScatteredSink(
                        g: g, firstImage: first, bias: biasLanes, output: output, residual: residual, relu: relu)
                    for k0 in stride(from: 0, to: g.s.outChannels, by: 16) {
                        winogradOutputTransform(
                            g, m: product, tiles: tiles, rowBase: tiles.lowerBound, k0: k0, sink: sink, scratch: scratch)
                    }
                    continue
                }
                // Whole images: each image's 16-channel block is staged channels-last, then
                // transposed into NCHW planes 16 pixels at a time.
                let sink = WinogradStagedSink(g: g, staging: staging)
                for image in 0..<images {
                    let imageTiles = (image * g.tilesPerImage)..<((image + 1) * g.tilesPerImage)
                    for block in blocks {
                        let k0 = block * 16
                        winogradOutputTransform(
                            g, m: product, tiles: imageTiles, rowBase: 0, k0: k0, sink: sink, scratch: scratch)
                        winogradWriteStaged(
                            g, staging: UnsafePointer(staging), image: first + image, k0: k0, bias: biasLanes,
                            output: output, residual: residual, relu: relu, block: staging + g.stagingFloats)
                    }
                }
            }
        }
    }
}

/// The output transform of `g.tile` for output channels `k0 ..< k0 + 16` of `tiles` (row
/// `tile - rowBase` of M), each tile handed to `sink`.
@inline(__always)
private func winogradOutputTransform<Sink: WinogradTileSink>(
    _ g: WinogradGeometry, m: UnsafePointer<Float>, tiles: Range<Int>, rowBase: Int, k0: Int, sink: Sink,
    scratch: UnsafeMutablePointer<Float>
) {
    if g.tile == 2 {
        winogradOutputTransform2x2(g, m: m, tiles: tiles, rowBase: rowBase, k0: k0, sink: sink, scratch: scratch)
    } else {
        winogradOutputTransform4x4(g, m: m, tiles: tiles, rowBase: rowBase, k0: k0, sink: sink, scratch: scratch)
    }
}

/// Copies `images` images from `firstImage` into the channels-last buffer
/// `[image][bufH][bufW][cPad]`, shifted by the top/left padding, zeros elsewhere. Blocks of 16
/// channels x 16 pixels of a plane go through a 16 x 16 transpose in `block` (256 floats); the
/// rest (a last block of fewer channels, the plane's last pixels, negative padding) element by
/// element.
private func winogradFillBuffer(
    _ g: WinogradGeometry, input: UnsafePointer<Float>, firstImage: Int, images: Int,
    buffer: UnsafeMutablePointer<Float>, block: UnsafeMutablePointer<Float>
) {
    let s = g.s
    buffer.update(repeating: 0, count: images * g.bufH * g.bufW * g.cPad)
    let plane = s.inHeight * s.inWidth
    // Input rows that land inside the buffer (the buffer may be shorter than the padded input when
    // the bottom/right padding exceeds what the last tile reads, or longer: zeros).
    let rowLimit = min(s.inHeight, g.bufH - s.padTop)
    let colLimit = min(s.inWidth, g.bufW - s.padLeft)
    let wholePlane = s.padTop >= 0 && s.padLeft >= 0 && rowLimit == s.inHeight && colLimit == s.inWidth
    for i in 0..<images {
        let x = input + (firstImage + i) * s.inChannels * plane
        let b = buffer + i * g.bufH * g.bufW * g.cPad
        var c0 = 0
        if wholePlane {
            while c0 + 16 <= s.inChannels {
                let xc = x + c0 * plane
                var p0 = 0
                while p0 + 16 <= plane {
                    transpose16x16(xc + p0, ld: plane, block, ldDst: 16)
                    var y = p0 / s.inWidth, col = p0 % s.inWidth
                    for j in 0..<16 {
                        storeLanes(loadLanes(block + j * 16), b + ((y + s.padTop) * g.bufW + col + s.padLeft) * g.cPad + c0)
                        col += 1
                        if col == s.inWidth { (y, col) = (y + 1, 0) }
                    }
                    p0 += 16
                }
                for p in p0..<plane {
                    let pixel = b + ((p / s.inWidth + s.padTop) * g.bufW + p % s.inWidth + s.padLeft) * g.cPad + c0
                    for l in 0..<16 { pixel[l] = xc[l * plane + p] }
                }
                c0 += 16
            }
        }
        for c in c0..<s.inChannels {
            let xc = x + c * plane
            for y in max(0, -s.padTop)..<max(0, rowLimit) {
                let row = b + ((y + s.padTop) * g.bufW + s.padLeft) * g.cPad + c
                let src = xc + y * s.inWidth
                for col in max(0, -s.padLeft)..<max(0, colLimit) { row[col * g.cPad] = src[col] }
            }
        }
    }
}

/// Rows of V and M that `tiles` tiles occupy: whole 4-row blocks (the smallest kernels' rows), so
/// that a single 7x7 map (4 tiles of F(4x4)) wastes no rows.
@inline(__always)
func winogradRows(_ tiles: Int) -> Int { (tiles + 3) / 4 * 4 }

/// The α² products `M[ξ] = V[ξ] · U[ξ]` (`[rows x C] · [C x 16·|blocks|]`, output channel blocks
/// `blocks` of 16) with the register-blocked kernels: 64 columns at a time while they remain, then
/// 32, then 16; rows in blocks of 6 (64 columns) or 12, and the last rows in blocks of 4. `rows`
/// must be a multiple of 4.
private func winogradProducts(
    _ g: WinogradGeometry, rows: Int, blocks: Range<Int>, v: UnsafePointer<Float>, u: UnsafePointer<Float>,
    m: UnsafeMutablePointer<Float>
) {
    var depth = g.s.inChannels
    withUnsafePointer(to: &depth) { depthPointer in
        for xi in 0..<g.positions {
            let a = v + xi * g.vPlaneStride
            let b = u + xi * g.s.inChannels * g.kPad
            let c = m + xi * g.mPlaneStride
            var k0 = blocks.lowerBound * 16
            let end = blocks.upperBound * 16
            while k0 < end {
                let remaining = end - k0
                let (rowStep, width, product, tail) =
                    remaining >= 64 ? (6, 64, winogradProduct6x4, winogradProduct4x4)
                    : remaining >= 32 ? (12, 32, winogradProduct12x2, winogradProduct4x2)
                    : (12, 16, winogradProduct12x1, winogradProduct4x1)
                // Big blocks while what is left after them is still a whole number of 4-row blocks
                // (for 6-row blocks: an even number of them), then 4-row blocks.
                var bigBlocks = rows / rowStep
                while (rows - bigBlocks * rowStep) % 4 != 0 { bigBlocks -= 1 }
                var r = 0
                while r < bigBlocks * rowStep {
                    product(a + r * g.cPad, g.cPad, b + k0, g.kPad, depthPointer, c + r * g.kPad + k0, g.kPad)
                    r += rowStep
                }
                while r < rows {
                    tail(a + r * g.cPad, g.cPad, b + k0, g.kPad, depthPointer, c + r * g.kPad + k0, g.kPad)
                    r += 4
                }
                k0 += width
            }
        }
    }
}

/// Where an output transform's tiles go.
protocol WinogradTileSink {
    /// Takes one tile (`tile`: index in the chunk, flattened over image, tile row, tile column) of
    /// output channels `k0 ..< k0 + 16`: `pixels` is `[m * m][16]`, row-major pixels, bias not
    /// yet added.
    func write(tile: Int, k0: Int, pixels: UnsafePointer<Float>)
}

/// Tile position of chunk tile `tile`: its image in the chunk and its top-left output pixel.
@inline(__always)
private func tileOrigin(_ g: WinogradGeometry, _ tile: Int) -> (image: Int, oh: Int, ow: Int) {
    let i = tile / g.tilesPerImage, ti = (tile % g.tilesPerImage) / g.tilesW, tj = tile % g.tilesW
    return (i, g.tile * ti, g.tile * tj)
}

/// Collects one image's tiles of one 16-channel block channels-last in `staging`
/// (`[outH * outW][16]`, pixels past the map's edge dropped), for `winogradWriteStaged`.
struct WinogradStagedSink: WinogradTileSink {
    let g: WinogradGeometry
    let staging: UnsafeMutablePointer<Float>

    @inline(__always)
    func write(tile: Int, k0: Int, pixels: UnsafePointer<Float>) {
        let s = g.s, m = g.tile
        let (_, oh, ow) = tileOrigin(g, tile)
        let rowsHere = min(m, s.outHeight - oh), colsHere = min(m, s.outWidth - ow)
        for dy in 0..<rowsHere {
            let row = staging + ((oh + dy) * s.outWidth + ow) * 16
            for dx in 0..<colsHere { storeLanes(loadLanes(pixels + (dy * m + dx) * 16), row + dx * 16) }
        }
    }
}

/// Writes the staged plane of output channels `k0 ..< k0 + 16` of batch image `image` into NCHW:
/// + bias, + residual, ReLU, 16 pixels of one channel per vector (16 x 16 transposes through
/// `block`, 256 floats); the last `plane % 16` pixels one by one.
private func winogradWriteStaged(
    _ g: WinogradGeometry, staging: UnsafePointer<Float>, image: Int, k0: Int, bias: UnsafePointer<Float>,
    output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool,
    block: UnsafeMutablePointer<Float>
) {
    let s = g.s
    let plane = s.outHeight * s.outWidth
    let channels = min(16, s.outChannels - k0)
    let origin = (image * s.outChannels + k0) * plane
    var p0 = 0
    while p0 + 16 <= plane {
        transpose16x16(staging + p0 * 16, ld: 16, block, ldDst: 16)
        for l in 0..<channels {
            let at = origin + l * plane + p0
            var value = loadLanes(block + l * 16) + SIMD16(repeating: bias[k0 + l])
            if let residual { value += loadLanes(residual + at) }
            if relu { value = value.replacing(with: 0, where: value .< 0) }
            storeLanes(value, output + at)
        }
        p0 += 16
    }
    for p in p0..<plane {
        for l in 0..<channels {
            let at = origin + l * plane + p
            var value = staging[p * 16 + l] + bias[k0 + l]
            if let residual { value += residual[at] }
            if relu { value = max(value, 0) }
            output[at] = value
        }
    }
}

/// Writes each tile straight into NCHW (+ bias, + residual, ReLU), one element at a time: for a
/// chunk that holds part of an image (a single image split by tiles over threads).
struct WinogradScatteredSink: WinogradTileSink {
    let g: WinogradGeometry
    let firstImage: Int
    /// Bias padded to `kPad` floats.
    let bias: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let residual: UnsafePointer<Float>?
    let relu: Bool

    @inline(__always)
    func write(tile: Int, k0: Int, pixels: UnsafePointer<Float>) {
        let s = g.s, m = g.tile
        let plane = s.outHeight * s.outWidth
        let (i, oh, ow) = tileOrigin(g, tile)
        let rowsHere = min(m, s.outHeight - oh), colsHere = min(m, s.outWidth - ow)
        let origin = (firstImage + i) * s.outChannels * plane + k0 * plane + oh * s.outWidth + ow
        for l in 0..<min(16, s.outChannels - k0) {
            let b = bias[k0 + l]
            let at = origin + l * plane
            for dy in 0..<rowsHere {
                let row = at + dy * s.outWidth
                for dx in 0..<colsHere {
                    var value = pixels[(dy * m + dx) * 16 + l] + b
                    if let residual { value += residual[row + dx] }
                    if relu { value = max(value, 0) }
                    output[row + dx] = value
                }
            }
        }
    }
}
