// The transforms of Winograd F(4x4, 3x3) (the algorithm and tiling: Winograd.swift): 6x6 input
// patches to the transformed domain (`Bᵀ d B`) and the 6x6 products back to 4x4 output tiles
// (`Aᵀ M A`), 16 channels per vector, with Lavin & Gray's matrices for the points 0, ±1, ±2, ∞:
//
//     Bᵀ = [ 4   0  -5   0   1   0 ]      Aᵀ = [ 1   1   1   1   1   0 ]
//          [ 0  -4  -4   1   1   0 ]           [ 0   1  -1   2  -2   0 ]
//          [ 0   4  -4  -1   1   0 ]           [ 0   1   1   4   4   0 ]
//          [ 0  -2  -1   2   1   0 ]           [ 0   1  -1   8  -8   1 ]
//          [ 0   2  -1  -2   1   0 ]
//          [ 0   4   0  -5   0   1 ]
//
// Each 2-D transform is the 1-D one applied along the rows into a scratch tile, then down its
// columns (the separable form: 2 x 6 one-dimensional transforms instead of a 36 x 36 matrix).

/// `Bᵀ d` for one column `d` of six vectors.
@inline(__always)
private func inputTransform6(
    _ d0: SIMD16<Float>, _ d1: SIMD16<Float>, _ d2: SIMD16<Float>, _ d3: SIMD16<Float>, _ d4: SIMD16<Float>,
    _ d5: SIMD16<Float>
) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let d4MinusD2 = d4 - d2, d3MinusD1 = d3 - d1
    let r0 = (d4 - 5 * d2) + 4 * d0
    let r1 = (d3 + d4) - 4 * (d1 + d2)
    let r2 = (d4 - d3) + 4 * (d1 - d2)
    let r3 = d4MinusD2 + 2 * d3MinusD1
    let r4 = d4MinusD2 - 2 * d3MinusD1
    let r5 = (d5 - 5 * d3) + 4 * d1
    return (r0, r1, r2, r3, r4, r5)
}

/// `Aᵀ m` for one column `m` of six vectors.
@inline(__always)
private func outputTransform6(
    _ m0: SIMD16<Float>, _ m1: SIMD16<Float>, _ m2: SIMD16<Float>, _ m3: SIMD16<Float>, _ m4: SIMD16<Float>,
    _ m5: SIMD16<Float>
) -> (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>) {
    let sum12 = m1 + m2, difference12 = m1 - m2, sum34 = m3 + m4, difference34 = m3 - m4
    return (m0 + sum12 + sum34, difference12 + 2 * difference34, sum12 + 4 * sum34, (difference12 + 8 * difference34) + m5)
}

/// `V[ξ][t][c] = (Bᵀ d B)[ξ]` (ξ = 6 a + b) for the chunk's tiles `tiles` (flattened over image,
/// tile row, tile column; row `t - tiles.lowerBound` of V) and 16 channels at a time. `scratch`:
/// at least 36 x 16 floats.
func winogradInputTransform4x4(
    _ g: WinogradGeometry, tiles: Range<Int>, buffer: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Float>
) {
    let xiStride = g.vPlaneStride
    let pixel = g.cPad, row = g.bufW * g.cPad
    for tile in tiles {
        let t = tile - tiles.lowerBound
        let i = tile / g.tilesPerImage, ti = (tile % g.tilesPerImage) / g.tilesW, tj = tile % g.tilesW
        let base = buffer + i * g.bufH * row + 4 * ti * row + 4 * tj * pixel
        var c0 = 0
        while c0 < g.cPad {
            // Along each of the six rows: h[r][b] = (d[r] B)[b], into scratch[r][b].
            for r in 0..<6 {
                let p = base + r * row + c0
                let (h0, h1, h2, h3, h4, h5) = inputTransform6(
                    loadLanes(p), loadLanes(p + pixel), loadLanes(p + 2 * pixel), loadLanes(p + 3 * pixel),
                    loadLanes(p + 4 * pixel), loadLanes(p + 5 * pixel))
                let h = scratch + r * 96
                storeLanes(h0, h)
                storeLanes(h1, h + 16)
                storeLanes(h2, h + 32)
                storeLanes(h3, h + 48)
                storeLanes(h4, h + 64)
                storeLanes(h5, h + 80)
            }
            // Down each of the six columns: V[6 a + b] = (Bᵀ h[·][b])[a].
            let out = v + t * g.cPad + c0
            for b in 0..<6 {
                let h = scratch + b * 16
                let (v0, v1, v2, v3, v4, v5) = inputTransform6(
                    loadLanes(h), loadLanes(h + 96), loadLanes(h + 192), loadLanes(h + 288), loadLanes(h + 384),
                    loadLanes(h + 480))
                storeLanes(v0, out + b * xiStride)
                storeLanes(v1, out + (6 + b) * xiStride)
                storeLanes(v2, out + (12 + b) * xiStride)
                storeLanes(v3, out + (18 + b) * xiStride)
                storeLanes(v4, out + (24 + b) * xiStride)
                storeLanes(v5, out + (30 + b) * xiStride)
            }
            c0 += 16
        }
    }
}

/// `Y = Aᵀ M A` for output channels `k0 ..< k0 + 16` of `tiles` (row `tile - rowBase` of M), each
/// tile's 4x4 pixels handed to `sink`. `scratch`: at least 24 x 16 + 256 floats.
@inline(__always)
func winogradOutputTransform4x4<Sink: WinogradTileSink>(
    _ g: WinogradGeometry, m: UnsafePointer<Float>, tiles: Range<Int>, rowBase: Int, k0: Int, sink: Sink,
    scratch: UnsafeMutablePointer<Float>
) {
    let xiStride = g.mPlaneStride
    // Column transforms s[a][b] (4 x 6 vectors), then the 4 x 4 output pixels.
    let columns = scratch, pixels = scratch + 24 * 16
    for tile in tiles {
        let p = m + (tile - rowBase) * g.kPad + k0
        // Down each of the six columns: s[a][b] = (Aᵀ M[·][b])[a].
        for b in 0..<6 {
            let q = p + b * xiStride
            let (s0, s1, s2, s3) = outputTransform6(
                loadLanes(q), loadLanes(q + 6 * xiStride), loadLanes(q + 12 * xiStride),
                loadLanes(q + 18 * xiStride), loadLanes(q + 24 * xiStride), loadLanes(q + 30 * xiStride))
            let column = columns + b * 16
            storeLanes(s0, column)
            storeLanes(s1, column + 96)
            storeLanes(s2, column + 192)
            storeLanes(s3, column + 288)
        }
        // Along each of the four rows: y[a][x] = (s[a][·] A)[x].
        for a in 0..<4 {
            let s = columns + a * 96
            let (y0, y1, y2, y3) = outputTransform6(
                loadLanes(s), loadLanes(s + 16), loadLanes(s + 32), loadLanes(s + 48), loadLanes(s + 64),
                loadLanes(s + 80))
            let y = pixels + a * 64
            storeLanes(y0, y)
            storeLanes(y1, y + 16)
            storeLanes(y2, y + 32)
            storeLanes(y3, y + 48)
        }
        sink.write(tile: tile, k0: k0, pixels: UnsafePointer(pixels))
    }
}
