// The transforms of Winograd F(2x2, 3x3) (the algorithm and tiling: Winograd.swift): 4x4 input
// patches to the transformed domain (`Bᵀ d B`) and the 4x4 products back to 2x2 output tiles
// (`Aᵀ M A`), 16 channels per vector. They only add and subtract.

/// `V[ξ][t][c] = (Bᵀ d B)[ξ]` for the chunk's tiles `tiles` (flattened over image, tile row, tile
/// column; row `t - tiles.lowerBound` of V) and 16 channels at a time, with
/// `Bᵀ = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]`.
func winogradInputTransform2x2(
    _ g: WinogradGeometry, tiles: Range<Int>, buffer: UnsafePointer<Float>, v: UnsafeMutablePointer<Float>
) {
    let xiStride = g.vPlaneStride
    let pixel = g.cPad, row = g.bufW * g.cPad
    for tile in tiles {
        let t = tile - tiles.lowerBound
        let i = tile / g.tilesPerImage, ti = (tile % g.tilesPerImage) / g.tilesW, tj = tile % g.tilesW
        let image = buffer + i * g.bufH * row
        let base = image + 2 * ti * row + 2 * tj * pixel
        var c0 = 0
        while c0 < g.cPad {
            let p = base + c0
            let d00 = loadLanes(p), d01 = loadLanes(p + pixel), d02 = loadLanes(p + 2 * pixel), d03 = loadLanes(p + 3 * pixel)
            let q1 = p + row
            let d10 = loadLanes(q1), d11 = loadLanes(q1 + pixel), d12 = loadLanes(q1 + 2 * pixel), d13 = loadLanes(q1 + 3 * pixel)
            let q2 = p + 2 * row
            let d20 = loadLanes(q2), d21 = loadLanes(q2 + pixel), d22 = loadLanes(q2 + 2 * pixel), d23 = loadLanes(q2 + 3 * pixel)
            let q3 = p + 3 * row
            let d30 = loadLanes(q3), d31 = loadLanes(q3 + pixel), d32 = loadLanes(q3 + 2 * pixel), d33 = loadLanes(q3 + 3 * pixel)
            // Rows: e_j = Bᵀ applied down column j.
            let e00 = d00 - d20, e01 = d01 - d21, e02 = d02 - d22, e03 = d03 - d23
            let e10 = d10 + d20, e11 = d11 + d21, e12 = d12 + d22, e13 = d13 + d23
            let e20 = d20 - d10, e21 = d21 - d11, e22 = d22 - d12, e23 = d23 - d13
            let e30 = d10 - d30, e31 = d11 - d31, e32 = d12 - d32, e33 = d13 - d33
            let out = v + t * g.cPad + c0
            // Then B along each row: (a, b, c, d) -> (a - c, b + c, c - b, b - d).
            storeLanes(e00 - e02, out)
            storeLanes(e01 + e02, out + xiStride)
            storeLanes(e02 - e01, out + 2 * xiStride)
            storeLanes(e01 - e03, out + 3 * xiStride)
            storeLanes(e10 - e12, out + 4 * xiStride)
            storeLanes(e11 + e12, out + 5 * xiStride)
            storeLanes(e12 - e11, out + 6 * xiStride)
            storeLanes(e11 - e13, out + 7 * xiStride)
            storeLanes(e20 - e22, out + 8 * xiStride)
            storeLanes(e21 + e22, out + 9 * xiStride)
            storeLanes(e22 - e21, out + 10 * xiStride)
            storeLanes(e21 - e23, out + 11 * xiStride)
            storeLanes(e30 - e32, out + 12 * xiStride)
            storeLanes(e31 + e32, out + 13 * xiStride)
            storeLanes(e32 - e31, out + 14 * xiStride)
            storeLanes(e31 - e33, out + 15 * xiStride)
            c0 += 16
        }
    }
}

/// `Y = Aᵀ M A` with `Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]` for output channels `k0 ..< k0 + 16`
/// of `tiles` (row `tile - rowBase` of M), each tile's 2x2 pixels handed to `sink`. `scratch`: at
/// least 64 floats.
@inline(__always)
func winogradOutputTransform2x2<Sink: WinogradTileSink>(
    _ g: WinogradGeometry, m: UnsafePointer<Float>, tiles: Range<Int>, rowBase: Int, k0: Int, sink: Sink,
    scratch: UnsafeMutablePointer<Float>
) {
    let xiStride = g.mPlaneStride
    let y = scratch
    for tile in tiles {
        let p = m + (tile - rowBase) * g.kPad + k0
        let m0 = loadLanes(p), m1 = loadLanes(p + xiStride), m2 = loadLanes(p + 2 * xiStride)
        let m3 = loadLanes(p + 3 * xiStride), m4 = loadLanes(p + 4 * xiStride), m5 = loadLanes(p + 5 * xiStride)
        let m6 = loadLanes(p + 6 * xiStride), m7 = loadLanes(p + 7 * xiStride), m8 = loadLanes(p + 8 * xiStride)
        let m9 = loadLanes(p + 9 * xiStride), m10 = loadLanes(p + 10 * xiStride)
        let m11 = loadLanes(p + 11 * xiStride), m12 = loadLanes(p + 12 * xiStride)
        let m13 = loadLanes(p + 13 * xiStride), m14 = loadLanes(p + 14 * xiStride)
        let m15 = loadLanes(p + 15 * xiStride)
        // Aᵀ down the columns: row 0 = m_0j + m_1j + m_2j, row 1 = m_1j - m_2j - m_3j.
        let a0 = m0 + m4 + m8, a1 = m1 + m5 + m9, a2 = m2 + m6 + m10, a3 = m3 + m7 + m11
        let b0 = m4 - m8 - m12, b1 = m5 - m9 - m13, b2 = m6 - m10 - m14, b3 = m7 - m11 - m15
        // Then A along the rows.
        storeLanes(a0 + a1 + a2, y)
        storeLanes(a1 - a2 - a3, y + 16)
        storeLanes(b0 + b1 + b2, y + 32)
        storeLanes(b1 - b2 - b3, y + 48)
        sink.write(tile: tile, k0: k0, pixels: UnsafePointer(y))
    }
}
