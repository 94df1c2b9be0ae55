import Kernels

// Derivatives of pooling (see Ops/Pooling.swift): average pooling (global or windowed) is linear;
// max pooling routes each output to its window's (first) maximum, found in `backward` and kept for
// the tangent passes that follow (GlobalMaxPool as a max pool whose window is the whole plane).

struct GlobalPoolDerivative: DerivativeRule {
    let planes: Int, spatial: Int

    init(_ c: DerivativeContext, _ op: GlobalPoolOperator) throws {
        precondition(!op.isMax, "GlobalMaxPool goes to MaxPoolDerivative")
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
        precondition(op.isMax, "AveragePool goes to AveragePoolDerivative")
        try self.init(c, shape: op.shape)
    }

    /// GlobalMaxPool: one window over each whole plane.
    init(_ c: DerivativeContext, _ op: GlobalPoolOperator) throws {
        precondition(op.isMax, "GlobalAveragePool goes to GlobalPoolDerivative")
        let batch = c.inputTypes[0]?.shape.first ?? 1
        try self.init(c, shape: Pool2DShape(batch: batch, channels: op.planes / max(batch, 1), inHeight: 1, inWidth: op.spatial,
                                            outHeight: 1, outWidth: 1, kernelH: 1, kernelW: op.spatial, strideH: 1, strideW: 1,
                                            padTop: 0, padLeft: 0, padBottom: 0, padRight: 0, dilationH: 1, dilationW: 1))
    }

    private init(_ c: DerivativeContext, shape: Pool2DShape) throws {
        s = shape
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

/// AveragePool: each output is the mean of its window's taps inside the input, divided by the number
/// of those taps, or with `count_include_pad` by the number of taps inside the padded input (as
/// `Kernels.averagePool2d` divides). Linear: the tangent is the pooled input tangent and the adjoint
/// spreads each output adjoint over its window, weighted by the window's reciprocal count.
struct AveragePoolDerivative: DerivativeRule {
    let s: Pool2DShape
    let countIncludePad: Bool
    /// Per output position of a plane: its taps' offsets into an input plane (`taps[tapStart[i]..<tapStart[i + 1]]`)
    /// and the reciprocal of its divisor.
    let taps: [Int32]
    let tapStart: [Int]
    let weights: [Float]

    init(_ c: DerivativeContext, _ op: PoolOperator) throws {
        precondition(!op.isMax, "MaxPool goes to MaxPoolDerivative")
        s = op.shape
        countIncludePad = op.countIncludePad
        guard s.inHeight * s.inWidth < Int(Int32.max) else { throw c.failure("input too large for reverse mode") }
        let s = s
        /// Taps k of a window starting at `start` that land in [0, limit).
        func inside(_ start: Int, _ kernel: Int, _ dilation: Int, _ limit: Int) -> [Int] {
            (0..<kernel).filter { start + $0 * dilation >= 0 && start + $0 * dilation < limit }
        }
        var taps: [Int32] = [], tapStart = [0], weights: [Float] = []
        for oh in 0..<s.outHeight {
            let hs = oh * s.strideH - s.padTop
            let rows = inside(hs, s.kernelH, s.dilationH, s.inHeight)
            let paddedRows = inside(hs + s.padTop, s.kernelH, s.dilationH, s.inHeight + s.padTop + s.padBottom).count
            for ow in 0..<s.outWidth {
                let ws = ow * s.strideW - s.padLeft
                let columns = inside(ws, s.kernelW, s.dilationW, s.inWidth)
                let paddedColumns = inside(ws + s.padLeft, s.kernelW, s.dilationW, s.inWidth + s.padLeft + s.padRight).count
                for kh in rows {
                    for kw in columns { taps.append(Int32((hs + kh * s.dilationH) * s.inWidth + ws + kw * s.dilationW)) }
                }
                tapStart.append(taps.count)
                let count = op.countIncludePad ? paddedRows * paddedColumns : rows.count * columns.count
                weights.append(1 / Float(max(count, 1)))
            }
        }
        (self.taps, self.tapStart, self.weights) = (taps, tapStart, weights)
    }

    private var planes: Int { s.batch * s.channels }
    private var planeIn: Int { s.inHeight * s.inWidth }
    private var planeOut: Int { s.outHeight * s.outWidth }

    /// x (`copies` x planes input planes) += Σ over windows of g · weight.
    private func spread(_ g: UnsafePointer<Float>, _ x: UnsafeMutablePointer<Float>, copies: Int, threads: Int) {
        let (planeIn, planeOut) = (planeIn, planeOut)
        taps.withUnsafeBufferPointer { taps in
            Parallel.forEach(copies * planes, threads: threads) { plane in
                let gp = g + plane * planeOut, xp = x + plane * planeIn
                for i in 0..<planeOut {
                    let v = gp[i] * weights[i]
                    for t in tapStart[i]..<tapStart[i + 1] { xp[Int(taps[t])] += v }
                }
            }
        }
    }

    func backward(_ d: DerivativeIO) {
        guard let g = d.outputGrads[0], let gx = d.inputGrad(0) else { return }
        spread(g, gx, copies: 1, threads: d.threads)
    }

    func tangent(_ d: DerivativeIO) {
        guard let out = d.outputTangents[0], let tx = d.inputTangent(0) else { return }
        let (planeIn, planeOut) = (planeIn, planeOut)
        taps.withUnsafeBufferPointer { taps in
            Parallel.forEach(d.probes * planes, threads: d.threads) { plane in
                let tp = tx + plane * planeIn, op = out + plane * planeOut
                for i in 0..<planeOut {
                    var sum: Float = 0
                    for t in tapStart[i]..<tapStart[i + 1] { sum += tp[Int(taps[t])] }
                    op[i] += sum * weights[i]
                }
            }
        }
    }

    func tangentBackward(_ d: DerivativeIO) {
        guard let tg = d.outputTangentGrads[0], let tgx = d.inputTangentGrad(0) else { return }
        spread(tg, tgx, copies: d.probes, threads: d.threads)
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
