/// Layer normalisation of each row of a contiguous row-major `[rows, cols]` matrix:
/// `y = (x - mean) / sqrt(var + epsilon) * scale + bias` with the biased variance
/// `var = mean((x - mean)^2)` (ONNX LayerNormalization over the trailing axes, flattened to `cols`).
/// `scale` and `bias` have `cols` elements or are nil (1 and 0). `input == output` is allowed.
/// `rows == 0` does nothing; `cols` must be >= 1.
///
/// Accuracy: two passes (mean, then squared deviations) with 64 float partial sums each, combined
/// pairwise, so rounding error grows like `cols / 64` ulps rather than `cols`: within 1e-5 relative
/// of a double-precision reference for cols up to several thousand.
public func layerNorm(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
    scale: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, epsilon: Float,
    threads: Int = Parallel.maxThreads
) {
    precondition(rows >= 0 && cols >= 1, "layerNorm: need rows >= 0, cols >= 1")
    let parts = max(1, min(threads, rows, rows * cols / (1 << 15)))
    Parallel.forEach(parts, threads: parts) { part in
        for r in (rows * part / parts)..<(rows * (part + 1) / parts) {
            layerNormRow(input + r * cols, output + r * cols, cols, scale, bias, epsilon)
        }
    }
}

/// Sum of `f(x[i])` over a row with four 16-lane accumulators (64 partial sums).
@inline(__always)
func rowSum(_ x: UnsafePointer<Float>, _ n: Int, _ f: (Vec) -> Vec) -> Float {
    var s0 = Vec()
    var s1 = Vec()
    var s2 = Vec()
    var s3 = Vec()
    var i = 0
    while i + 64 <= n {
        s0 += f(loadLanes(x + i))
        s1 += f(loadLanes(x + i + 16))
        s2 += f(loadLanes(x + i + 32))
        s3 += f(loadLanes(x + i + 48))
        i += 64
    }
    while i + 16 <= n {
        s0 += f(loadLanes(x + i))
        i += 16
    }
    if i < n {
        var v = Vec()
        for j in 0..<(n - i) { v[j] = x[i + j] }
        var r = f(v)
        // Zero the padding lanes after f (f(0) need not be 0).
        for j in (n - i)..<16 { r[j] = 0 }
        s1 += r
    }
    return ((s0 + s1) + (s2 + s3)).sum()
}

private func layerNormRow(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
    _ scale: UnsafePointer<Float>?, _ bias: UnsafePointer<Float>?, _ epsilon: Float
) {
    let mean = rowSum(x, n) { $0 } / Float(n)
    let mv = Vec(repeating: mean)
    let variance =
        rowSum(x, n) {
            let d = $0 - mv
            return d * d
        } / Float(n)
    let inv = 1 / (variance + epsilon).squareRoot()
    let iv = Vec(repeating: inv)
    var i = 0
    while i + 16 <= n {
        var v = (loadLanes(x + i) - mv) * iv
        if let scale { v *= loadLanes(scale + i) }
        if let bias { v += loadLanes(bias + i) }
        UnsafeMutableRawPointer(y + i).storeBytes(of: v, as: Vec.self)
        i += 16
    }
    while i < n {
        var v = (x[i] - mean) * inv
        if let scale { v *= scale[i] }
        if let bias { v += bias[i] }
        y[i] = v
        i += 1
    }
}
