/// An elementwise function of one float, applied by `unary`.
public enum UnaryOp: Sendable, Equatable {
    /// max(x, 0)
    case relu
    /// x for x >= 0, alpha x otherwise.
    case leakyRelu(alpha: Float)
    /// 1 / (1 + e^-x)
    case sigmoid
    case tanh
    case erf
    /// 0.5 x (1 + erf(x / sqrt 2)) (ONNX Gelu approximate="none").
    case gelu
    /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (ONNX Gelu approximate="tanh").
    case geluTanh
    /// Correctly rounded square root (NaN below 0).
    case sqrt
    case exp
    /// Natural logarithm (-inf at 0, NaN below 0).
    case log
    case neg
    case abs
    /// 1 / x, correctly rounded.
    case reciprocal
    /// min(max(x, min), max) (ONNX Clip).
    case clip(min: Float, max: Float)
    /// max(0, min(1, alpha x + beta)) (ONNX HardSigmoid; defaults alpha 0.2, beta 0.5).
    case hardSigmoid(alpha: Float, beta: Float)
    /// log(1 + e^x)
    case softplus
    /// x · max(0, min(1, x/6 + 1/2)) (ONNX HardSwish).
    case hardSwish
}

/// Applies `op` to `count` floats: `output[i] = op(input[i])`. `input == output` (in place) is
/// allowed; other overlaps are not. Contiguous buffers, any length (`count == 0` does nothing).
///
/// Accuracy vs. the exact function: relu, leakyRelu, neg, abs, clip, sqrt, reciprocal are exact
/// (correctly rounded); exp, log, sigmoid, tanh, erf, gelu, geluTanh, softplus are within 2e-7
/// relative or 1e-7 absolute; hardSigmoid has the single rounding of its FMA; hardSwish the
/// roundings of x/6, + 1/2 and the product, in that order (as a scalar evaluation).
/// Splits over `threads` threads for large counts (>= 64K elements per thread).
public func unary(
    _ op: UnaryOp, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, count: Int,
    threads: Int = Parallel.maxThreads
) {
    precondition(count >= 0, "unary: negative count")
    let chunk = 1 << 16
    let parts = max(1, min(threads, count / chunk))
    if parts <= 1 {
        unarySerial(op, input, output, count)
        return
    }
    Parallel.forEach(parts, threads: parts) { part in
        // Chunk boundaries on multiples of 16 keep every part but the last free of a tail.
        let lo = (count * part / parts) & ~15
        let hi = part == parts - 1 ? count : (count * (part + 1) / parts) & ~15
        unarySerial(op, input + lo, output + lo, hi - lo)
    }
}

/// In-place form of `unary`: `data[i] = op(data[i])`.
public func unary(_ op: UnaryOp, _ data: UnsafeMutablePointer<Float>, count: Int, threads: Int = Parallel.maxThreads) {
    unary(op, input: UnsafePointer(data), output: data, count: count, threads: threads)
}

private func unarySerial(_ op: UnaryOp, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    switch op {
    case .relu: mapVectors(x, y, n) { vmax($0, Vec()) }
    case .leakyRelu(let alpha): mapVectors(x, y, n) { $0.replacing(with: $0 * alpha, where: $0 .< 0) }
    case .sigmoid: mapVectors(x, y, n) { vsigmoid($0) }
    case .tanh: mapVectors(x, y, n) { vtanh($0) }
    case .erf: mapVectors(x, y, n) { verf($0) }
    case .gelu: mapVectors(x, y, n) { vgelu($0) }
    case .geluTanh: mapVectors(x, y, n) { vgeluTanh($0) }
    case .sqrt: mapVectors(x, y, n) { $0.squareRoot() }
    case .exp: mapVectors(x, y, n) { vexp($0) }
    case .log: mapVectors(x, y, n) { vlog($0) }
    case .neg: mapVectors(x, y, n) { -$0 }
    case .abs: mapVectors(x, y, n) { vabs($0) }
    case .reciprocal: mapVectors(x, y, n) { 1 / $0 }
    case .clip(let lo, let hi):
        mapVectors(x, y, n) { vmin(vmax($0, Vec(repeating: lo)), Vec(repeating: hi)) }
    case .hardSigmoid(let alpha, let beta):
        mapVectors(x, y, n) { v in
            vmin(vmax(Vec(repeating: beta).addingProduct(v, alpha), Vec()), Vec(repeating: 1))
        }
    case .softplus: mapVectors(x, y, n) { vsoftplus($0) }
    case .hardSwish:
        mapVectors(x, y, n) { v in v * vmin(vmax(v / 6 + 0.5, Vec()), Vec(repeating: 1)) }
    }
}

/// `y[i] = f(x[i])` 16 lanes at a time; the tail goes through one zero-padded vector so every
/// element sees the same code path (results do not depend on position).
@inline(__always)
func mapVectors(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: (Vec) -> Vec) {
    var i = 0
    while i + 16 <= n {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vec.self)
        UnsafeMutableRawPointer(y + i).storeBytes(of: f(v), as: Vec.self)
        i += 16
    }
    if i < n {
        var v = Vec()
        for j in 0..<(n - i) { v[j] = x[i + j] }
        let r = f(v)
        for j in 0..<(n - i) { y[i + j] = r[j] }
    }
}
