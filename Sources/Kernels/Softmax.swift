/// Softmax over the middle axis of a contiguous `[outer, axisLength, inner]` view:
/// `y[o, i, j] = e^(x[o, i, j] - m) / sum_i e^(x[o, i, j] - m)` with `m` the max over `i`, so it
/// never overflows. A row containing +inf gives NaN (as e^(inf - inf)); a row of all -inf gives NaN.
/// `inner == 1` (the usual last-axis case) runs along contiguous rows; otherwise 16 `inner`
/// positions are processed side by side. `input == output` is allowed. Sizes may be 0.
/// Error: ~2 ulp relative per element (exp within 2e-7, then one division).
public func softmax(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, outer: Int, axisLength: Int, inner: Int,
    threads: Int = Parallel.maxThreads
) {
    softmaxDriver(input, output, outer, axisLength, inner, log: false, threads: threads)
}

/// Log-softmax over the middle axis of `[outer, axisLength, inner]`:
/// `y = x - m - log(sum e^(x - m))`. Same layout, aliasing and edge rules as `softmax`.
public func logSoftmax(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, outer: Int, axisLength: Int, inner: Int,
    threads: Int = Parallel.maxThreads
) {
    softmaxDriver(input, output, outer, axisLength, inner, log: true, threads: threads)
}

private func softmaxDriver(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ outer: Int, _ len: Int, _ inner: Int,
    log: Bool, threads: Int
) {
    precondition(outer >= 0 && len >= 0 && inner >= 0, "softmax: negative size")
    if outer == 0 || len == 0 || inner == 0 { return }
    let parts = max(1, min(threads, outer, outer * len * inner / (1 << 15)))
    if inner == 1 && len < shortRowLimit && outer >= 16 {
        // Short rows (attention over a few tokens): 16 rows side by side, one per lane.
        let blocks = outer / 16
        Parallel.forEach(parts, threads: parts) { part in
            for block in (blocks * part / parts)..<(blocks * (part + 1) / parts) {
                softmaxShortRows(x + block * 16 * len, y + block * 16 * len, len, log: log)
            }
        }
        for o in (blocks * 16)..<outer { softmaxRow(x + o * len, y + o * len, len, log: log) }
        return
    }
    Parallel.forEach(parts, threads: parts) { part in
        for o in (outer * part / parts)..<(outer * (part + 1) / parts) {
            let xs = x + o * len * inner
            let ys = y + o * len * inner
            if inner == 1 {
                softmaxRow(xs, ys, len, log: log)
            } else {
                var j = 0
                while j < inner {
                    softmaxColumns(xs + j, ys + j, len, inner, lanes: min(16, inner - j), log: log)
                    j += 16
                }
            }
        }
    }
}

/// Rows shorter than this run 16 at a time through `softmaxShortRows`: with one or two vectors per
/// row, the per-row horizontal max/sum and the partial tail vector cost more than the arithmetic
/// (measured 3.1 ns/element for rows of 17 on the row path).
let shortRowLimit = 32

/// 16 consecutive rows of `n` (1...31) elements: transposed through a stack tile so that each lane
/// holds one row, normalised with whole-vector operations, and transposed back.
private func softmaxShortRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
    withUnsafeTemporaryAllocation(of: Vec.self, capacity: shortRowLimit) { tile in
        let t = tile.baseAddress!
        for i in 0..<n {
            var v = Vec()
            for lane in 0..<16 { v[lane] = x[lane * n + i] }
            t[i] = v
        }
        var m = t[0]
        for i in 1..<n { m = vmax(m, t[i]) }
        var s = Vec()
        for i in 0..<n {
            let e = vexp(t[i] - m)
            s += e
            if !log { t[i] = e }
        }
        if log {
            let shift = m + vlog(s)
            for i in 0..<n { t[i] -= shift }
        } else {
            let r = 1 / s
            for i in 0..<n { t[i] *= r }
        }
        for i in 0..<n {
            let v = t[i]
            for lane in 0..<16 { y[lane * n + i] = v[lane] }
        }
    }
}

/// One contiguous row of `n >= 1` elements.
private func softmaxRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
    var mv = Vec(repeating: -.infinity)
    var i = 0
    while i + 16 <= n {
        mv = vmax(mv, loadLanes(x + i))
        i += 16
    }
    var m = mv.max()
    while i < n {
        m = max(m, x[i])
        i += 1
    }
    // exp(x - m), summed in 16 lanes (then across lanes), written to y for the plain softmax.
    var sv = Vec()
    let mvv = Vec(repeating: m)
    i = 0
    while i + 16 <= n {
        let e = vexp(loadLanes(x + i) - mvv)
        if !log { storeLanes(e, y + i) }
        sv += e
        i += 16
    }
    if i < n {
        var v = Vec(repeating: -.infinity)
        for j in 0..<(n - i) { v[j] = x[i + j] - m }
        let e = vexp(v)
        if !log { for j in 0..<(n - i) { y[i + j] = e[j] } }
        sv += e
    }
    let sum = sv.sum()
    if log {
        let shift = m + vlog(Vec(repeating: sum))[0]
        mapVectors(x, y, n) { $0 - shift }
    } else {
        let sumV = Vec(repeating: sum)
        mapVectors(UnsafePointer(y), y, n) { $0 / sumV }
    }
}

/// `lanes` (1...16) adjacent inner positions, axis stride `stride`.
private func softmaxColumns(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ stride: Int, lanes: Int, log: Bool
) {
    @inline(__always) func get(_ p: UnsafePointer<Float>) -> Vec {
        if lanes == 16 { return loadLanes(p) }
        var v = Vec()
        for j in 0..<lanes { v[j] = p[j] }
        return v
    }
    @inline(__always) func put(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
        if lanes == 16 {
            storeLanes(v, p)
            return
        }
        for j in 0..<lanes { p[j] = v[j] }
    }
    var m = Vec(repeating: -.infinity)
    for i in 0..<n { m = vmax(m, get(x + i * stride)) }
    var s = Vec()
    for i in 0..<n {
        let e = vexp(get(x + i * stride) - m)
        if !log { put(e, y + i * stride) }
        s += e
    }
    if log {
        let shift = m + vlog(s)
        for i in 0..<n { put(get(x + i * stride) - shift, y + i * stride) }
    } else {
        for i in 0..<n { put(get(UnsafePointer(y + i * stride)) / s, y + i * stride) }
    }
}
