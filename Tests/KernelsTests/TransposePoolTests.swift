import Kernels
import Testing

@Suite struct TransposeTests {
    static let cases: [([Int], [Int])] = [
        ([5, 7], [1, 0]), ([33, 65], [1, 0]), ([2, 3, 4, 5], [0, 2, 1, 3]), ([3, 40, 50], [0, 2, 1]),
        ([2, 3, 4, 5], [3, 2, 1, 0]), ([2, 1, 4, 1], [3, 1, 2, 0]), ([4, 6, 8], [1, 2, 0]),
        ([7], [0]), ([], []), ([2, 0, 3], [2, 0, 1]), ([2, 3, 4, 5], [0, 1, 2, 3]),
        ([3, 4, 5, 6, 2], [4, 0, 3, 1, 2]),
        ([2, 65, 4, 16], [0, 2, 1, 3]), ([300, 300], [1, 0]),
    ]

    @Test(arguments: 0..<14)
    func matchesNaivePermutation(index: Int) {
        let (shape, perm) = Self.cases[index]
        let total = shape.reduce(1, *)
        let x = (0..<max(total, 1)).map { Float($0) }
        var y = [Float](repeating: -1, count: max(total, 1))
        transpose(input: x, shape: shape, perm: perm, output: &y, threads: 2)
        let outShape = perm.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: shape.count)
        if shape.count > 1 {
            for d in stride(from: shape.count - 2, through: 0, by: -1) {
                inStrides[d] = inStrides[d + 1] * shape[d + 1]
            }
        }
        var want = [Float](repeating: -1, count: max(total, 1))
        if shape.isEmpty { want[0] = x[0] }
        for o in 0..<total {
            var rem = o
            var src = 0
            for d in stride(from: outShape.count - 1, through: 0, by: -1) {
                src += (rem % outShape[d]) * inStrides[perm[d]]
                rem /= outShape[d]
            }
            want[o] = x[src]
        }
        #expect(y == want, "\(shape) \(perm)")
    }
}

/// Direct reference for pooling: walks every window cell with explicit bounds checks.
private func referencePool(_ s: Pool2DShape, _ x: [Float], max isMax: Bool, includePad: Bool) -> [Double] {
    var out: [Double] = []
    for p in 0..<(s.batch * s.channels) {
        for oh in 0..<s.outHeight {
            for ow in 0..<s.outWidth {
                var m = -Double.infinity
                var sum = 0.0
                var n = 0
                var nPad = 0
                for kh in 0..<s.kernelH {
                    for kw in 0..<s.kernelW {
                        let h = oh * s.strideH - s.padTop + kh * s.dilationH
                        let w = ow * s.strideW - s.padLeft + kw * s.dilationW
                        if h >= -s.padTop && h < s.inHeight + s.padBottom && w >= -s.padLeft
                            && w < s.inWidth + s.padRight
                        {
                            nPad += 1
                        }
                        guard h >= 0 && h < s.inHeight && w >= 0 && w < s.inWidth else { continue }
                        let v = Double(x[(p * s.inHeight + h) * s.inWidth + w])
                        m = max(m, v)
                        sum += v
                        n += 1
                    }
                }
                out.append(isMax ? m : sum / Double(max(includePad ? nPad : n, 1)))
            }
        }
    }
    return out
}

@Suite struct PoolingTests {
    static let shapes: [Pool2DShape] = [
        Pool2DShape(
            batch: 2, channels: 3, inHeight: 8, inWidth: 8, outHeight: 4, outWidth: 4, kernelH: 2, kernelW: 2,
            strideH: 2, strideW: 2),
        Pool2DShape(
            batch: 1, channels: 2, inHeight: 7, inWidth: 9, outHeight: 4, outWidth: 5, kernelH: 3, kernelW: 3,
            strideH: 2, strideW: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1),
        // ceil mode: last window runs past the padded input (7 + 0 pad, k 2, s 2 -> 4 outputs).
        Pool2DShape(
            batch: 1, channels: 1, inHeight: 7, inWidth: 7, outHeight: 4, outWidth: 4, kernelH: 2, kernelW: 2,
            strideH: 2, strideW: 2),
        Pool2DShape(
            batch: 1, channels: 1, inHeight: 6, inWidth: 5, outHeight: 3, outWidth: 3, kernelH: 3, kernelW: 3,
            strideH: 2, strideW: 2, padTop: 1, padLeft: 1, padBottom: 0, padRight: 0),
        Pool2DShape(
            batch: 1, channels: 2, inHeight: 9, inWidth: 9, outHeight: 5, outWidth: 5, kernelH: 2, kernelW: 3,
            strideH: 1, strideW: 1, padTop: 0, padLeft: 1, padBottom: 0, padRight: 1, dilationH: 2, dilationW: 2),
        Pool2DShape(
            batch: 3, channels: 64, inHeight: 28, inWidth: 28, outHeight: 14, outWidth: 14, kernelH: 2, kernelW: 2,
            strideH: 2, strideW: 2),
        Pool2DShape(batch: 1, channels: 1, inHeight: 1, inWidth: 1, outHeight: 1, outWidth: 1, kernelH: 1, kernelW: 1),
        // Vectorised 2x2/2 path: rows of 16 + 16 + 3 outputs, and an odd input whose last row and
        // column no window reads (floor mode).
        Pool2DShape(
            batch: 2, channels: 3, inHeight: 6, inWidth: 70, outHeight: 3, outWidth: 35, kernelH: 2, kernelW: 2,
            strideH: 2, strideW: 2),
        Pool2DShape(
            batch: 1, channels: 5, inHeight: 9, inWidth: 9, outHeight: 4, outWidth: 4, kernelH: 2, kernelW: 2,
            strideH: 2, strideW: 2),
    ]

    @Test(arguments: 0..<9)
    func maxAndAverage(index: Int) {
        let s = Self.shapes[index]
        var rng = TestRNG(seed: UInt64(index))
        let x = rng.floats(s.batch * s.channels * s.inHeight * s.inWidth)
        let n = s.batch * s.channels * s.outHeight * s.outWidth
        var y = [Float](repeating: .nan, count: n)
        maxPool2d(s, input: x, output: &y, threads: 2)
        #expect(toleranceRatio(y, referencePool(s, x, max: true, includePad: false), rtol: 0, atol: 0) <= 1)
        for includePad in [false, true] {
            averagePool2d(s, input: x, output: &y, countIncludePad: includePad, threads: 2)
            let want = referencePool(s, x, max: false, includePad: includePad)
            #expect(toleranceRatio(y, want, rtol: 1e-6, atol: 1e-6) <= 1, "includePad \(includePad)")
        }
    }

    @Test func ceilModeOutputSize() {
        #expect(Pool2DShape.outputSize(input: 7, kernel: 2, stride: 2, padBegin: 0, padEnd: 0, ceilMode: true) == 4)
        #expect(Pool2DShape.outputSize(input: 7, kernel: 2, stride: 2, padBegin: 0, padEnd: 0, ceilMode: false) == 3)
        #expect(Pool2DShape.outputSize(input: 6, kernel: 3, stride: 2, padBegin: 1, padEnd: 1, ceilMode: true) == 4)
        #expect(Pool2DShape.outputSize(input: 5, kernel: 2, stride: 2, padBegin: 1, padEnd: 1, ceilMode: true) == 3)
    }

    @Test func globalPools() {
        var rng = TestRNG(seed: 2)
        let x = rng.floats(2 * 3 * 49)
        var avg = [Float](repeating: 0, count: 6)
        var mx = avg
        globalAveragePool(input: x, output: &avg, batch: 2, channels: 3, spatial: 49)
        globalMaxPool(input: x, output: &mx, batch: 2, channels: 3, spatial: 49)
        for p in 0..<6 {
            let plane = x[(p * 49)..<((p + 1) * 49)]
            #expect(Swift.abs(Double(avg[p]) - plane.map(Double.init).reduce(0, +) / 49) < 1e-6)
            #expect(mx[p] == plane.max()!)
        }
    }
}
