import Kernels

// Derivatives of pooling (see Ops/Pooling.swift): global average pooling is linear; max pooling
// routes each output to its window's (first) maximum, found in `backward` and kept for the tangent
// passes that follow.

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
    /// The flat input index of each output's window maximum, from the last `backward`.
    let routes: PrimalIndices

    init(_ c: DerivativeContext, _ op: PoolOperator) throws {
        guard op.isMax else { throw c.failure("has no backward (AveragePool)") }
        s = op.shape
        guard s.batch * s.channels * s.inHeight * s.inWidth < Int(Int32.max) else { throw c.failure("input too large for reverse mode") }
        routes = PrimalIndices(count: s.batch * s.channels * s.outHeight * s.outWidth)
    }

    private var outCount: Int { s.batch * s.channels * s.outHeight * s.outWidth }
    private var inCount: Int { s.batch * s.channels * s.inHeight * s.inWidth }

    /// For each output, the flat input index of its window's first maximum, into `routes`.
    private func findRoutes(_ x: UnsafePointer<Float>) {
        let map = routes.pointer
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
                    map[plane * planeOut + oh * s.outWidth + ow] = Int32(max(index, 0))
                }
            }
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let x = d.inputs[0] else { return }
        findRoutes(x)
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        let map = routes.pointer
        for i in 0..<outCount { gx[Int(map[i])] += g[i] }
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let map = routes.pointer, outCount = outCount, inCount = inCount
        Parallel.forEach(d.probes, threads: d.threads) { p in
            let o = out + p * outCount, t = tx + p * inCount
            for i in 0..<outCount { o[i] += t[Int(map[i])] }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        let map = routes.pointer, outCount = outCount, inCount = inCount
        Parallel.forEach(d.probes, threads: d.threads) { p in
            let t = tg + p * outCount, o = tgx + p * inCount
            for i in 0..<outCount { o[Int(map[i])] += t[i] }
        }
    }
}

/// Input indices a rule finds from the primal values in `backward` and reads in the tangent passes
/// after it (`count` of them, zero until the first `backward`).
final class PrimalIndices {
    let pointer: UnsafeMutablePointer<Int32>

    init(count: Int) {
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    deinit { pointer.deallocate() }
}
