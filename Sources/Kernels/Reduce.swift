/// A reduction applied by `reduce`.
public enum ReduceOp: Sendable, Equatable {
    /// Sum; 0 for an empty axis.
    case sum
    /// Sum / count; NaN for an empty axis.
    case mean
    /// Maximum; -inf for an empty axis.
    case max
    /// Minimum; +inf for an empty axis.
    case min
    /// Product; 1 for an empty axis.
    case prod
    /// Sum of squares; 0 for an empty axis.
    case sumSquare
    /// sqrt(sum of squares) (ONNX ReduceL2).
    case l2
    /// Sum of absolute values (ONNX ReduceL1).
    case l1
}

/// Reduces the middle axis of a contiguous `[outer, reduceLength, inner]` view into
/// `output[outer, inner]`. Sums use 16-lane (or per-`inner`-position) float partial sums, so the
/// error grows like `reduceLength / 16` ulps, not `reduceLength`. Max/min ignore NaN ordering
/// rules (unspecified with NaN inputs). `output` must not overlap `input`.
public func reduce(
    _ op: ReduceOp, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    outer: Int, reduceLength: Int, inner: Int, threads: Int = Parallel.maxThreads
) {
    precondition(outer >= 0 && reduceLength >= 0 && inner >= 0, "reduce: negative size")
    if outer == 0 || inner == 0 { return }
    let parts = Swift.max(1, Swift.min(threads, outer, outer * reduceLength * inner / (1 << 16)))
    Parallel.forEach(parts, threads: parts) { part in
        for o in (outer * part / parts)..<(outer * (part + 1) / parts) {
            let x = input + o * reduceLength * inner
            let y = output + o * inner
            switch op {
            case .sum: reduceSlice(x, y, reduceLength, inner, 0, { $0 + $1 }, { $0 + $1 }, { $0 })
            case .mean:
                reduceSlice(x, y, reduceLength, inner, 0, { $0 + $1 }, { $0 + $1 }, { $0 })
                let scale = 1 / Float(reduceLength)
                for j in 0..<inner { y[j] = reduceLength == 0 ? .nan : y[j] * scale }
            case .max:
                reduceSlice(x, y, reduceLength, inner, -.infinity, { vmax($0, $1) }, { Swift.max($0, $1) }, { $0 })
            case .min:
                reduceSlice(x, y, reduceLength, inner, .infinity, { vmin($0, $1) }, { Swift.min($0, $1) }, { $0 })
            case .prod: reduceSlice(x, y, reduceLength, inner, 1, { $0 * $1 }, { $0 * $1 }, { $0 })
            case .sumSquare: reduceSlice(x, y, reduceLength, inner, 0, { $0 + $1 }, { $0 + $1 }, { $0 * $0 })
            case .l2:
                reduceSlice(x, y, reduceLength, inner, 0, { $0 + $1 }, { $0 + $1 }, { $0 * $0 })
                for j in 0..<inner { y[j] = y[j].squareRoot() }
            case .l1: reduceSlice(x, y, reduceLength, inner, 0, { $0 + $1 }, { $0 + $1 }, { vabs($0) })
            }
        }
    }
}

/// `y[j] = combine over i of map(x[i, j])` for one outer index. `combine` must be associative
/// and `identity` its identity; `map` is applied to real elements only.
@inline(__always)
private func reduceSlice(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ inner: Int, _ identity: Float,
    _ combine: (Vec, Vec) -> Vec, _ combine1: (Float, Float) -> Float, _ map: (Vec) -> Vec
) {
    if inner == 1 {
        var a0 = Vec(repeating: identity)
        var a1 = a0
        var a2 = a0
        var a3 = a0
        var i = 0
        while i + 64 <= n {
            a0 = combine(a0, map(loadLanes(x + i)))
            a1 = combine(a1, map(loadLanes(x + i + 16)))
            a2 = combine(a2, map(loadLanes(x + i + 32)))
            a3 = combine(a3, map(loadLanes(x + i + 48)))
            i += 64
        }
        while i + 16 <= n {
            a0 = combine(a0, map(loadLanes(x + i)))
            i += 16
        }
        if i < n {
            var v = Vec()
            for j in 0..<(n - i) { v[j] = x[i + j] }
            var m = map(v)
            for j in (n - i)..<16 { m[j] = identity }
            a1 = combine(a1, m)
        }
        let a = combine(combine(a0, a1), combine(a2, a3))
        var r = a[0]
        for j in 1..<16 { r = combine1(r, a[j]) }
        y[0] = r
        return
    }
    // Accumulate whole rows of `inner` values, 16 positions at a time, in registers.
    var j = 0
    while j + 16 <= inner {
        var acc = Vec(repeating: identity)
        for i in 0..<n { acc = combine(acc, map(loadLanes(x + i * inner + j))) }
        UnsafeMutableRawPointer(y + j).storeBytes(of: acc, as: Vec.self)
        j += 16
    }
    if j < inner {
        let lanes = inner - j
        var acc = Vec(repeating: identity)
        for i in 0..<n {
            var v = Vec()
            for q in 0..<lanes { v[q] = x[i * inner + j + q] }
            acc = combine(acc, map(v))
        }
        for q in 0..<lanes { y[j + q] = acc[q] }
    }
}

/// Index of the largest of `count` values (the first one on ties, as ONNX ArgMax with
/// select_last_index = 0); NaN values are skipped, and a row of NaNs gives 0. `count >= 1`.
@inline(__always)
public func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    var bestValue = -Float.infinity
    var found = false
    for j in 0..<count where x[j] > bestValue || (!found && !x[j].isNaN) {
        best = j
        bestValue = x[j]
        found = true
    }
    return best
}

/// Index of the largest element of each row of a contiguous `[rows, cols]` matrix (see
/// `argmax(_:count:)`). `cols >= 1`.
public func argmax(input: UnsafePointer<Float>, rows: Int, cols: Int, output: UnsafeMutablePointer<Int>) {
    precondition(cols >= 1, "argmax: cols must be >= 1")
    for r in 0..<rows { output[r] = argmax(input + r * cols, count: cols) }
}
