#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Kernels
import Testing

/// Naive numpy-broadcast reference in Double.
private func referenceBinary(
    _ op: BinaryOp, _ a: [Float], _ aShape: [Int], _ b: [Float], _ bShape: [Int], _ outShape: [Int]
) -> [Double] {
    let rank = outShape.count
    let pa = [Int](repeating: 1, count: rank - aShape.count) + aShape
    let pb = [Int](repeating: 1, count: rank - bShape.count) + bShape
    let total = outShape.reduce(1, *)
    var out = [Double](repeating: 0, count: total)
    for idx in 0..<total {
        var rem = idx
        var ia = 0
        var ib = 0
        var sa = 1
        var sb = 1
        for d in stride(from: rank - 1, through: 0, by: -1) {
            let i = rem % outShape[d]
            rem /= outShape[d]
            ia += (pa[d] == 1 ? 0 : i) * sa
            ib += (pb[d] == 1 ? 0 : i) * sb
            sa *= pa[d]
            sb *= pb[d]
        }
        let x = Double(a[ia])
        let y = Double(b[ib])
        switch op {
        case .add: out[idx] = x + y
        case .sub: out[idx] = x - y
        case .mul: out[idx] = x * y
        case .div: out[idx] = x / y
        case .pow: out[idx] = Glibc.pow(x, y)
        case .max: out[idx] = Swift.max(x, y)
        case .min: out[idx] = Swift.min(x, y)
        }
    }
    return out
}

@Suite struct BinaryTests {
    static let cases: [([Int], [Int], [Int])] = [
        ([2, 3, 4, 5], [2, 3, 4, 5], [2, 3, 4, 5]),  // same shape
        ([4, 3, 7, 5], [1, 3, 1, 1], [4, 3, 7, 5]),  // per-channel NCHW
        ([3, 17, 33], [33], [3, 17, 33]),  // [N,T,D] + [D]
        ([5, 6], [], [5, 6]),  // scalar b
        ([], [7, 2], [7, 2]),  // scalar a
        ([1], [1], [1]),
        ([3, 1, 5], [1, 4, 1], [3, 4, 5]),  // both broadcast
        ([2, 1, 70000], [2, 3, 1], [2, 3, 70000]),  // large, threaded
        ([6, 1], [6, 1000], [6, 1000]),
        ([0, 3], [3], [0, 3]),  // empty
        ([2, 3, 1, 1], [2, 3, 1, 1], [2, 3, 1, 1]),
    ]

    @Test(arguments: 0..<11)
    func broadcastingMatchesReference(index: Int) {
        let (aShape, bShape, outShape) = Self.cases[index]
        var rng = TestRNG(seed: UInt64(index))
        let a = rng.floats(Swift.max(1, aShape.reduce(1, *)), 0.5, 2)
        let b = rng.floats(Swift.max(1, bShape.reduce(1, *)), 0.5, 2)
        let total = outShape.reduce(1, *)
        for op in [BinaryOp.add, .sub, .mul, .div, .pow, .max, .min] {
            var out = [Float](repeating: .nan, count: Swift.max(total, 1))
            broadcastBinary(op, a: a, aShape: aShape, b: b, bShape: bShape, out: &out, outShape: outShape, threads: 2)
            let want = referenceBinary(op, a, aShape, b, bShape, outShape)
            // add/sub/mul/div/max/min are correctly rounded; powf is within 1 ulp.
            let r = toleranceRatio(Array(out.prefix(total)), want, rtol: 1.5e-7, atol: 0)
            #expect(r <= 1, "\(op) \(aShape) \(bShape): ratio \(r)")
        }
    }

    @Test(arguments: [Float(2), 3, 0.5, 1, 0, -1, 2.5])
    func powScalarFastPaths(exponent: Float) {
        var rng = TestRNG(seed: 3)
        let a = rng.floats(37, 0.1, 3)
        var out = [Float](repeating: 0, count: 37)
        broadcastBinary(.pow, a: a, aShape: [37], b: [exponent], bShape: [1], out: &out, outShape: [37])
        let want = a.map { Glibc.pow(Double($0), Double(exponent)) }
        // x^3 rounds twice (x*x*x): allow 2 ulp.
        #expect(toleranceRatio(out, want, rtol: 2.4e-7, atol: 0) <= 1)
    }
}
