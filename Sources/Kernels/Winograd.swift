import Synchronization

// Winograd convolution F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016) for 3x3, stride-1, undilated, ungrouped convolutions.
//
// Each 2x2 block of outputs ("tile") of one output channel is computed from the 4x4 input patch
// under it as `Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A`: 16 multiplies per (tile, channel pair)
// instead of 36, i.e. 2.25x fewer (fewer on maps with odd sizes, whose last tiles are half used).
// With the 16 element positions ξ of the 4x4 transformed tiles split out, the channel sums are 16
// independent matrix products `M[ξ] = V[ξ] · U[ξ]` (`[tiles x C] · [C x K]`), which the
// register-blocked kernels of WinogradKernels.swift compute.
//
// Work is done per chunk of a few images, sized so that the chunk's transformed input V and
// product M stay in the core's L2 cache: (1) the chunk's input is copied into a zero-padded
// channels-last buffer (so the input transform works on 16 channels per vector), (2) input
// transform into V `[16][rows][Cpad]`, (3) the 16 products into M `[16][rows][Kpad]`, (4) output
// transform, + bias, + residual, ReLU, scattered into NCHW. Chunks are split over threads.
//
// Accuracy: the transforms only add, subtract and halve (exact scalings), so the error is that of
// float32 sums of about 4x more terms of similar size than the direct sum: measured within the same
// tolerance as the direct kernels (Conv2DTests).

/// Whether `s` has the geometry F(2x2, 3x3) handles and enough channels for its transforms to pay
/// off (measured: below 16 input or output channels the direct kernels win), whatever the policy.
/// Workspace sizes and packed weights go by this, so that any policy can run with them.
func winogradGeometryFits(_ s: Conv2DShape) -> Bool {
    s.kernelH == 3 && s.kernelW == 3 && s.strideH == 1 && s.strideW == 1 && s.dilationH == 1 && s.dilationW == 1
        && s.group == 1 && s.inChannels >= 16 && s.outChannels >= 16 && s.outHeight >= 2 && s.outWidth >= 2
}

/// `winogradGeometryFits` and the current policy allows Winograd at all.
func winogradApplies(_ s: Conv2DShape) -> Bool {
    ConvolutionOptions.winograd != .never && winogradGeometryFits(s)
}

/// Process-wide choices of convolution algorithm.
public enum ConvolutionOptions {
    /// When eligible 3x3 convolutions use Winograd F(2x2, 3x3).
    public enum WinogradPolicy: Int, Sendable {
        /// Where it measured faster on this machine kind (`usesWinograd`).
        case auto
        /// Every eligible convolution (tests, experiments).
        case always
        /// Never: every convolution sums its terms directly (float32 rounding closest to a
        /// direct reference).
        case never
    }

    /// Read when a convolution starts, on the calling thread. Default `.auto`. Task-local: set it
    /// with `ConvolutionOptions.$winograd.withValue(.always) { ... }` for the convolutions that code
    /// runs; other tasks and threads keep theirs (a process-wide switch flipped by one test changed
    /// the algorithm of convolutions other tests were running).
    @TaskLocal public static var winograd: WinogradPolicy = .auto
}

/// Sizes of the Winograd buffers for one shape.
struct WinogradGeometry {
    let s: Conv2DShape
    /// Tiles per image along each axis (the last may be half outside the output).
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
    /// Rows (tiles) of V and M per chunk, rounded up to the kernels' 12-row blocks.
    let rows: Int

    /// Bytes of V + M one chunk may use: with the transformed weights (256 KiB for 64 -> 64
    /// channels) and the input buffer, a chunk stays inside a core's 1 MiB L2 (1 MiB chunks measured
    /// 20% slower on two threads).
    static let chunkBytes = 3 << 17

    init(_ s: Conv2DShape) {
        self.s = s
        tilesH = (s.outHeight + 1) / 2
        tilesW = (s.outWidth + 1) / 2
        tilesPerImage = tilesH * tilesW
        cPad = (s.inChannels + 15) / 16 * 16
        kPad = (s.outChannels + 15) / 16 * 16
        bufH = 2 * tilesH + 2
        bufW = 2 * tilesW + 2
        let perImage = 16 * tilesPerImage * (cPad + kPad) * 4
        imagesPerChunk = max(1, min(s.batch, Self.chunkBytes / max(perImage, 1)))
        rows = (tilesPerImage * imagesPerChunk + 11) / 12 * 12
    }

    var bufferFloats: Int { imagesPerChunk * bufH * bufW * cPad }
    var transformedInputFloats: Int { 16 * rows * cPad }
    var productFloats: Int { 16 * rows * kPad }
    /// Workspace of one worker (plus slack for the 16-float over-read of the last vector).
    var workerFloats: Int { bufferFloats + transformedInputFloats + productFloats + 16 }
    /// Floats of transformed weights: `U[16][C][kPad]`.
    var weightFloats: Int { 16 * s.inChannels * kPad }
    var chunks: Int { (s.batch + imagesPerChunk - 1) / imagesPerChunk }
    /// Workers of the chunk split (a single chunk is split by tiles over all `threads`).
    func workers(threads: Int) -> Int { chunks < threads ? threads : max(1, min(threads, chunks)) }
}

/// Floats of workspace `winogradConv` needs.
func winogradWorkspaceCount(_ s: Conv2DShape, threads: Int) -> Int {
    let g = WinogradGeometry(s)
    return g.workerFloats * g.workers(threads: threads)
}

/// Transforms OIHW 3x3 weights into `u[ξ][c][k]` (`k` padded with zeros to `kPad`):
/// `U = G g Gᵀ` with `G = [[1, 0, 0], [½, ½, ½], [½, -½, ½], [0, 0, 1]]`, computed in double and
/// rounded once.
func packWinogradWeights(_ g: WinogradGeometry, _ weight: UnsafePointer<Float>, _ u: UnsafeMutablePointer<Float>) {
    let s = g.s
    u.initialize(repeating: 0, count: g.weightFloats)
    /// Row `i` of G applied to (x0, x1, x2).
    @inline(__always) func gRow(_ i: Int, _ x0: Double, _ x1: Double, _ x2: Double) -> Double {
        switch i {
        case 0: return x0
        case 1: return 0.5 * (x0 + x1 + x2)
        case 2: return 0.5 * (x0 - x1 + x2)
        default: return x2
        }
    }
    for k in 0..<s.outChannels {
        for c in 0..<s.inChannels {
            let w = weight + (k * s.inChannels + c) * 9
            for i in 0..<4 {
                // Row i of t = G g (over the kernel's 3 columns), then U[i][j] = row i of t · G[j].
                let t0 = gRow(i, Double(w[0]), Double(w[3]), Double(w[6]))
                let t1 = gRow(i, Double(w[1]), Double(w[4]), Double(w[7]))
                let t2 = gRow(i, Double(w[2]), Double(w[5]), Double(w[8]))
                for j in 0..<4 {
                    u[((i * 4 + j) * s.inChannels + c) * g.kPad + k] = Float(gRow(j, t0, t1, t2))
                }
            }
        }
    }
}

/// F(2x2, 3x3) convolution of `g.s` with transformed weights `u` (`packWinogradWeights`): same
/// contract as `conv2d` (bias, then residual, then ReLU). `workspace`: `winogradWorkspaceCount`.
///
/// Chunks of images are split over threads; a batch with fewer chunks than threads (one image)
/// is split by tiles instead: each worker copies the image into its own buffer and transforms,
/// multiplies and writes back its share of the tiles.
func winogradConv(
    _ g: WinogradGeometry, input: UnsafePointer<Float>, u: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool,
    workspace: UnsafeMutablePointer<Float>, threads: Int
) {
    let chunks = g.chunks
    let tileSplit = chunks < threads && g.tilesPerImage * g.s.batch >= 24
    let workers = g.workers(threads: threads)
    Parallel.forEach(workers, threads: workers) { worker in
        let buffer = workspace + worker * g.workerFloats
        let v = buffer + g.bufferFloats
        let m = v + g.transformedInputFloats
        let chunkRange = tileSplit ? 0..<chunks : (chunks * worker / workers)..<(chunks * (worker + 1) / workers)
        for chunk in chunkRange {
            let first = chunk * g.imagesPerChunk
            let images = min(g.imagesPerChunk, g.s.batch - first)
            let all = images * g.tilesPerImage
            let tiles = tileSplit ? (all * worker / workers)..<(all * (worker + 1) / workers) : 0..<all
            if tiles.isEmpty { continue }
            let rows = (tiles.count + 11) / 12 * 12
            winogradFillBuffer(g, input: input, firstImage: first, images: images, buffer: buffer)
            winogradInputTransform(g, tiles: tiles, rows: rows, buffer: UnsafePointer(buffer), v: v)
            winogradProducts(g, rows: rows, v: UnsafePointer(v), u: u, m: m)
            winogradOutputTransform(
                g, m: UnsafePointer(m), tiles: tiles, firstImage: first, bias: bias, output: output,
                residual: residual, relu: relu)
        }
    }
}

/// Copies `images` images from `firstImage` into the channels-last buffer
/// `[image][bufH][bufW][cPad]`, shifted by the top/left padding, zeros elsewhere.
private func winogradFillBuffer(
    _ g: WinogradGeometry, input: UnsafePointer<Float>, firstImage: Int, images: Int,
    buffer: UnsafeMutablePointer<Float>
) {
    let s = g.s
    buffer.update(repeating: 0, count: images * g.bufH * g.bufW * g.cPad)
    let plane = s.inHeight * s.inWidth
    // Input rows that land inside the buffer (the buffer may be shorter than the padded input when
    // the bottom/right padding exceeds what the last tile reads, or longer: zeros).
    let rowLimit = min(s.inHeight, g.bufH - s.padTop)
    let colLimit = min(s.inWidth, g.bufW - s.padLeft)
    for i in 0..<images {
        let x = input + (firstImage + i) * s.inChannels * plane
        let b = buffer + i * g.bufH * g.bufW * g.cPad
        for c in 0..<s.inChannels {
            let xc = x + c * plane
            for y in max(0, -s.padTop)..<max(0, rowLimit) {
                let row = b + ((y + s.padTop) * g.bufW + s.padLeft) * g.cPad + c
                let src = xc + y * s.inWidth
                for col in max(0, -s.padLeft)..<max(0, colLimit) { row[col * g.cPad] = src[col] }
            }
        }
    }
}

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
private func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// `V[ξ][t][c] = (Bᵀ d B)[ξ]` for the chunk's tiles `tiles` (flattened over image, tile row, tile
/// column; row `t - tiles.lowerBound` of V) and 16 channels at a time, with
/// `Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`. Rows up to `rows` past the
/// tiles are zeroed (the products read them).
private func winogradInputTransform(
    _ g: WinogradGeometry, tiles: Range<Int>, rows: Int, buffer: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>
) {
    let xiStride = g.rows * g.cPad
    let pixel = g.cPad, row = g.bufW * g.cPad
    for tile in tiles {
        let t = tile - tiles.lowerBound
        let i = tile / g.tilesPerImage, ti = (tile % g.tilesPerImage) / g.tilesW, tj = tile % g.tilesW
        let image = buffer + i * g.bufH * row
        let base = image + 2 * ti * row + 2 * tj * pixel
        var c0 = 0
        while c0 < g.cPad {
            let p = base + c0
            let d00 = load(p), d01 = load(p + pixel), d02 = load(p + 2 * pixel), d03 = load(p + 3 * pixel)
            let q1 = p + row
            let d10 = load(q1), d11 = load(q1 + pixel), d12 = load(q1 + 2 * pixel), d13 = load(q1 + 3 * pixel)
            let q2 = p + 2 * row
            let d20 = load(q2), d21 = load(q2 + pixel), d22 = load(q2 + 2 * pixel), d23 = load(q2 + 3 * pixel)
            let q3 = p + 3 * row
            let d30 = load(q3), d31 = load(q3 + pixel), d32 = load(q3 + 2 * pixel), d33 = load(q3 + 3 * pixel)
            // Rows: e_j = Bᵀ applied down column j.
            let e00 = d00 - d20, e01 = d01 - d21, e02 = d02 - d22, e03 = d03 - d23
            let e10 = d10 + d20, e11 = d11 + d21, e12 = d12 + d22, e13 = d13 + d23
            let e20 = d20 - d10, e21 = d21 - d11, e22 = d22 - d12, e23 = d23 - d13
            let e30 = d10 - d30, e31 = d11 - d31, e32 = d12 - d32, e33 = d13 - d33
            let out = v + t * g.cPad + c0
            // Then B along each row: (a, b, c, d) -> (a - c, b + c, c - b, b - d).
            store(e00 - e02, out)
            store(e01 + e02, out + xiStride)
            store(e02 - e01, out + 2 * xiStride)
            store(e01 - e03, out + 3 * xiStride)
            store(e10 - e12, out + 4 * xiStride)
            store(e11 + e12, out + 5 * xiStride)
            store(e12 - e11, out + 6 * xiStride)
            store(e11 - e13, out + 7 * xiStride)
            store(e20 - e22, out + 8 * xiStride)
            store(e21 + e22, out + 9 * xiStride)
            store(e22 - e21, out + 10 * xiStride)
            store(e21 - e23, out + 11 * xiStride)
            store(e30 - e32, out + 12 * xiStride)
            store(e31 + e32, out + 13 * xiStride)
            store(e32 - e31, out + 14 * xiStride)
            store(e31 - e33, out + 15 * xiStride)
            c0 += 16
        }
    }
    if tiles.count < rows {
        for xi in 0..<16 {
            (v + xi * xiStride + tiles.count * g.cPad).update(repeating: 0, count: (rows - tiles.count) * g.cPad)
        }
    }
}

/// The 16 products `M[ξ] = V[ξ] · U[ξ]` (`[rows x C] · [C x kPad]`) with the register-blocked
/// kernels: 6 x 64 blocks while 64 columns remain, then 12 x 32, then 12 x 16.
private func winogradProducts(
    _ g: WinogradGeometry, rows: Int, v: UnsafePointer<Float>, u: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>
) {
    var depth = g.s.inChannels
    withUnsafePointer(to: &depth) { depthPointer in
        for xi in 0..<16 {
            let a = v + xi * g.rows * g.cPad
            let b = u + xi * g.s.inChannels * g.kPad
            let c = m + xi * g.rows * g.kPad
            var k0 = 0
            while k0 < g.kPad {
                let remaining = g.kPad - k0
                let (rowStep, width, product) =
                    remaining >= 64 ? (6, 64, winogradProduct6x4) : remaining >= 32 ? (12, 32, winogradProduct12x2)
                    : (12, 16, winogradProduct12x1)
                var r = 0
                while r < rows {
                    product(a + r * g.cPad, g.cPad, b + k0, g.kPad, depthPointer, c + r * g.kPad + k0, g.kPad)
                    r += rowStep
                }
                k0 += width
            }
        }
    }
}

/// `Y = Aᵀ M A` with `Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]` for the chunk's tiles `tiles` (row
/// `t - tiles.lowerBound` of M; the chunk starts at image `firstImage`) and 16 output channels at
/// a time, then + bias, + residual, ReLU, written into NCHW (outputs past the map's edge dropped).
private func winogradOutputTransform(
    _ g: WinogradGeometry, m: UnsafePointer<Float>, tiles: Range<Int>, firstImage: Int, bias: UnsafePointer<Float>?,
    output: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, relu: Bool
) {
    let s = g.s
    let xiStride = g.rows * g.kPad
    let plane = s.outHeight * s.outWidth
    var biasVectors = [SIMD16<Float>](repeating: .zero, count: g.kPad / 16)
    if let bias {
        for k in 0..<s.outChannels { biasVectors[k / 16][k % 16] = bias[k] }
    }
    var lanes = [Float](repeating: 0, count: 64)
    lanes.withUnsafeMutableBufferPointer { lanesBuffer in
        let y = lanesBuffer.baseAddress!
        for tile in tiles {
            let t = tile - tiles.lowerBound
            let i = tile / g.tilesPerImage, ti = (tile % g.tilesPerImage) / g.tilesW, tj = tile % g.tilesW
            let image = (firstImage + i) * s.outChannels * plane
            let oh = 2 * ti, ow = 2 * tj
            let rowsHere = min(2, s.outHeight - oh), colsHere = min(2, s.outWidth - ow)
            var k0 = 0
            while k0 < s.outChannels {
                let p = m + t * g.kPad + k0
                let m0 = load(p), m1 = load(p + xiStride), m2 = load(p + 2 * xiStride), m3 = load(p + 3 * xiStride)
                let m4 = load(p + 4 * xiStride), m5 = load(p + 5 * xiStride), m6 = load(p + 6 * xiStride)
                let m7 = load(p + 7 * xiStride), m8 = load(p + 8 * xiStride), m9 = load(p + 9 * xiStride)
                let m10 = load(p + 10 * xiStride), m11 = load(p + 11 * xiStride), m12 = load(p + 12 * xiStride)
                let m13 = load(p + 13 * xiStride), m14 = load(p + 14 * xiStride), m15 = load(p + 15 * xiStride)
                // Aᵀ down the columns: row 0 = m_0j + m_1j + m_2j, row 1 = m_1j - m_2j - m_3j.
                let a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11
                let b0 = m4 - m8 - m12, b1 = m5 - m9 - m13, b2 = m6 - m10 - m14, b3 = m7 - m11 - m15
                // Then A along the rows, + bias.
                let bv = biasVectors[k0 / 16]
                store(a0 + a1 + a2 + bv, y)
                store(a1 - a2 - a3 + bv, y + 16)
                store(b0 + b1 + b2 + bv, y + 32)
                store(b1 - b2 - b3 + bv, y + 48)
                let channels = min(16, s.outChannels - k0)
                for dy in 0..<rowsHere {
                    for dx in 0..<colsHere {
                        let lane = y + (dy * 2 + dx) * 16
                        let at = image + k0 * plane + (oh + dy) * s.outWidth + ow + dx
                        for l in 0..<channels {
                            var value = lane[l]
                            if let residual { value += residual[at + l * plane] }
                            if relu { value = max(value, 0) }
                            output[at + l * plane] = value
                        }
                    }
                }
                k0 += 16
            }
        }
    }
}
