#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An elementwise function of two floats, applied by `broadcastBinary`.
public enum BinaryOp: Sendable, Equatable {
    case add, sub, mul, div
    /// powf(a, b); exponents 2, 3, 0.5, 1, 0 and -1 (as a broadcast scalar) take exact fast paths
    /// (0.5 as correctly rounded sqrt, which differs from powf by at most 1 ulp; others exact).
    case pow
    /// Elementwise max / min (NaN handling unspecified).
    case max, min
}

/// `out = a op b` with numpy broadcasting, all tensors contiguous row-major.
///
/// Shapes are right-aligned; each dimension of `aShape` / `bShape` must equal the matching one of
/// `outShape` or be 1 (missing leading dimensions count as 1), and `outShape` must be exactly the
/// broadcast shape. `out` may alias `a` or `b` only when that operand has the output's shape.
/// Zero-size outputs do nothing. Rank 0 shapes (`[]`) are scalars.
///
/// Dimensions are first collapsed (adjacent dimensions that broadcast the same way merge), so
/// `[N,C,H,W] + [1,C,1,1]` runs as `[N, C, H*W]` with a scalar per row, `[N,T,D] + [D]` as
/// `[N*T, D]` rows plus one vector, and equal shapes as one flat vector loop.
public func broadcastBinary(
    _ op: BinaryOp, a: UnsafePointer<Float>, aShape: [Int], b: UnsafePointer<Float>, bShape: [Int],
    out: UnsafeMutablePointer<Float>, outShape: [Int], threads: Int = Parallel.maxThreads
) {
    let rank = outShape.count
    precondition(aShape.count <= rank && bShape.count <= rank, "broadcastBinary: operand rank exceeds output rank")
    var dims: [Int] = []
    var aStrides: [Int] = []
    var bStrides: [Int] = []
    // Per-dimension strides (0 where broadcast), innermost last.
    var aFull = [Int](repeating: 1, count: rank)
    var bFull = [Int](repeating: 1, count: rank)
    for i in 0..<aShape.count { aFull[rank - aShape.count + i] = aShape[i] }
    for i in 0..<bShape.count { bFull[rank - bShape.count + i] = bShape[i] }
    var aStride = 1
    var bStride = 1
    var fullA = [Int](repeating: 0, count: rank)
    var fullB = [Int](repeating: 0, count: rank)
    for d in stride(from: rank - 1, through: 0, by: -1) {
        let n = outShape[d]
        precondition(aFull[d] == n || aFull[d] == 1, "broadcastBinary: a dim \(d) is \(aFull[d]), output \(n)")
        precondition(bFull[d] == n || bFull[d] == 1, "broadcastBinary: b dim \(d) is \(bFull[d]), output \(n)")
        precondition(
            n == Swift.max(aFull[d], bFull[d]) || n == 0, "broadcastBinary: output shape is not the broadcast shape")
        fullA[d] = aFull[d] == 1 ? 0 : aStride
        fullB[d] = bFull[d] == 1 ? 0 : bStride
        aStride *= aFull[d]
        bStride *= bFull[d]
    }
    if outShape.contains(0) { return }
    // Collapse: drop size-1 dims; merge dim d into the (already collected) inner one when both
    // operands step through them as one run.
    for d in stride(from: rank - 1, through: 0, by: -1) where outShape[d] != 1 {
        if let inner = dims.last {
            let ai = aStrides.last!
            let bi = bStrides.last!
            if fullA[d] == ai * inner && fullB[d] == bi * inner {
                dims[dims.count - 1] = inner * outShape[d]
                continue
            }
        }
        dims.append(outShape[d])
        aStrides.append(fullA[d])
        bStrides.append(fullB[d])
    }
    dims.reverse()
    aStrides.reverse()
    bStrides.reverse()
    if dims.isEmpty {
        dims = [1]
        aStrides = [0]
        bStrides = [0]
    }
    let inner = dims.last!
    let innerA = aStrides.last!
    let innerB = bStrides.last!
    let outer = dims.dropLast().reduce(1, *)

    // Threads split the outer rows, or the single row into 16-aligned pieces.
    let total = outer * inner
    let parts = Swift.max(1, Swift.min(threads, total / (1 << 16)))
    let outerDims = Array(dims.dropLast())
    let outerA = Array(aStrides.dropLast())
    let outerB = Array(bStrides.dropLast())
    outerDims.withUnsafeBufferPointer { od in
        outerA.withUnsafeBufferPointer { oa in
            outerB.withUnsafeBufferPointer { ob in
                if outer == 1 {
                    Parallel.forEach(parts, threads: parts) { part in
                        let lo = (inner * part / parts) & ~15
                        let hi = part == parts - 1 ? inner : (inner * (part + 1) / parts) & ~15
                        binaryRow(
                            op, a + lo * innerA, innerA, b + lo * innerB, innerB, out + lo, hi - lo)
                    }
                    return
                }
                Parallel.forEach(parts, threads: parts) { part in
                    let r0 = outer * part / parts
                    let r1 = outer * (part + 1) / parts
                    for r in r0..<r1 {
                        // Decompose the row index into outer coordinates (innermost outer dim last).
                        var rem = r
                        var ao = 0
                        var bo = 0
                        var d = od.count - 1
                        while d >= 0 {
                            let q = rem / od[d]
                            let i = rem - q * od[d]
                            ao += i * oa[d]
                            bo += i * ob[d]
                            rem = q
                            d -= 1
                        }
                        binaryRow(op, a + ao, innerA, b + bo, innerB, out + r * inner, inner)
                    }
                }
            }
        }
    }
}

/// One contiguous output row of `n` elements; each operand steps by 1 (vector) or 0 (scalar).
private func binaryRow(
    _ op: BinaryOp, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
    _ out: UnsafeMutablePointer<Float>, _ n: Int
) {
    switch op {
    case .add: zipRow(a, sa, b, sb, out, n, { $0 + $1 }, { $0 + $1 })
    case .sub: zipRow(a, sa, b, sb, out, n, { $0 - $1 }, { $0 - $1 })
    case .mul: zipRow(a, sa, b, sb, out, n, { $0 * $1 }, { $0 * $1 })
    case .div: zipRow(a, sa, b, sb, out, n, { $0 / $1 }, { $0 / $1 })
    case .max: zipRow(a, sa, b, sb, out, n, { vmax($0, $1) }, { Swift.max($0, $1) })
    case .min: zipRow(a, sa, b, sb, out, n, { vmin($0, $1) }, { Swift.min($0, $1) })
    case .pow:
        if sb == 0 {
            switch b.pointee {
            case 2: zipRow(a, sa, b, 0, out, n, { x, _ in x * x }, { x, _ in x * x })
            case 3: zipRow(a, sa, b, 0, out, n, { x, _ in x * x * x }, { x, _ in x * x * x })
            case 0.5: zipRow(a, sa, b, 0, out, n, { x, _ in x.squareRoot() }, { x, _ in x.squareRoot() })
            case 1: zipRow(a, sa, b, 0, out, n, { x, _ in x }, { x, _ in x })
            case 0: zipRow(a, sa, b, 0, out, n, { _, _ in Vec(repeating: 1) }, { _, _ in 1 })
            case -1: zipRow(a, sa, b, 0, out, n, { x, _ in 1 / x }, { x, _ in 1 / x })
            default: for i in 0..<n { out[i] = powf(a[i * sa], b.pointee) }
            }
        } else {
            for i in 0..<n { out[i] = powf(a[i * sa], b[i * sb]) }
        }
    }
}

/// Vector loop for the four stride combinations (each 0 or 1), so every case is a plain
/// vector-vector, vector-scalar, scalar-vector or fill loop.
@inline(__always)
private func zipRow(
    _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
    _ out: UnsafeMutablePointer<Float>, _ n: Int,
    _ f: (Vec, Vec) -> Vec, _ g: (Float, Float) -> Float
) {
    var i = 0
    switch (sa, sb) {
    case (1, 1):
        while i + 16 <= n {
            storeLanes(f(loadLanes(a + i), loadLanes(b + i)), out + i)
            i += 16
        }
        while i < n {
            out[i] = g(a[i], b[i])
            i += 1
        }
    case (1, 0):
        let bs = b.pointee
        let bv = Vec(repeating: bs)
        while i + 16 <= n {
            storeLanes(f(loadLanes(a + i), bv), out + i)
            i += 16
        }
        while i < n {
            out[i] = g(a[i], bs)
            i += 1
        }
    case (0, 1):
        let aScalar = a.pointee
        let av = Vec(repeating: aScalar)
        while i + 16 <= n {
            storeLanes(f(av, loadLanes(b + i)), out + i)
            i += 16
        }
        while i < n {
            out[i] = g(aScalar, b[i])
            i += 1
        }
    default:
        let v = g(a.pointee, b.pointee)
        while i < n {
            out[i] = v
            i += 1
        }
    }
}
