import Kernels

// Derivatives of pooling (see Ops/Pooling.swift): global average pooling is linear; max pooling
// routes each output to its window's (first) maximum, recomputed from the primal input each pass.

struct GlobalPoolDerivative: DerivativeRule {
    let planes: Int, spatial: Int

    init(_ c: DerivativeContext, _ op: GlobalPoolOperator) throws {
        guard !op.isMax else { throw c.failure("has no backward (GlobalMaxPool)") }
        planes = op.planes
        spatial = op.spatial
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        spread(g, gx, copies: 1)
    }

    private func spread(_ g: UnsafePointer<Float>, _ gx: UnsafeMutablePointer<Float>, copies: Int) {
        let scale = 1 / Float(spatial)
        for plane in 0..<(copies * planes) {
            let v = g[plane] * scale, row = gx + plane * spatial
            for i in 0..<spatial { row[i] += v }
        }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let scale = 1 / Float(spatial)
        for plane in 0..<(d.probes * planes) {
            var s: Float = 0
            let row = tx + plane * spatial
            for i in 0..<spatial { s += row[i] }
            out[plane] += s * scale
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        spread(tg, tgx, copies: d.probes)
    }
}

struct MaxPoolDerivative: DerivativeRule {
    let s: Pool2DShape

    init(_ c: DerivativeContext, _ op: PoolOperator) throws {
        guard op.isMax else { throw c.failure("has no backward (AveragePool)") }
        s = op.shape
    }

    private var outCount: Int { s.batch * s.channels * s.outHeight * s.outWidth }
    private var inCount: Int { s.batch * s.channels * s.inHeight * s.inWidth }

    /// For each output, the flat input index of its window's first maximum.
    private func argmax(_ x: UnsafePointer<Float>) -> [Int] {
        var map = [Int](repeating: 0, count: outCount)
        let planeIn = s.inHeight * s.inWidth, planeOut = s.outHeight * s.outWidth
        for plane in 0..<(s.batch * s.channels) {
            for oh in 0..<s.outHeight {
                for ow in 0..<s.outWidth {
                    var best = -Float.infinity, index = -1
                    for kh in 0..<s.kernelH {
                        let h = oh * s.strideH - s.padTop + kh * s.dilationH
                        guard h >= 0 && h < s.inHeight else { continue }
                        for kw in 0..<s.kernelW {
                            let w = ow * s.strideW - s.padLeft + kw * s.dilationW
                            guard w >= 0 && w < s.inWidth else { continue }
                            let e = plane * planeIn + h * s.inWidth + w
                            if index < 0 || x[e] > best { best = x[e]; index = e }
                        }
                    }
                    map[plane * planeOut + oh * s.outWidth + ow] = max(index, 0)
                }
            }
        }
        return map
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        let map = argmax(d.input(0))
        for i in 0..<outCount { gx[map[i]] += g[i] }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let map = argmax(d.input(0))
        for p in 0..<d.probes { for i in 0..<outCount { out[p * outCount + i] += tx[p * inCount + map[i]] } }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        let map = argmax(d.input(0))
        for p in 0..<d.probes { for i in 0..<outCount { tgx[p * inCount + map[i]] += tg[p * outCount + i] } }
    }
}
