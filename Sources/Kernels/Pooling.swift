/// Geometry of a 2-D pooling window over NCHW input.
///
/// The caller chooses `outHeight` / `outWidth` (this is where ONNX `ceil_mode` lives):
/// floor mode is `(inHeight + padTop + padBottom - dilationH * (kernelH - 1) - 1) / strideH + 1`;
/// ceil mode rounds the division up (and ONNX drops a last window that would start inside the
/// bottom/right padding). Windows may run past the padded input; those cells are ignored.
public struct Pool2DShape: Sendable, Equatable {
    public var batch: Int
    public var channels: Int
    public var inHeight: Int
    public var inWidth: Int
    public var outHeight: Int
    public var outWidth: Int
    public var kernelH: Int
    public var kernelW: Int
    public var strideH: Int
    public var strideW: Int
    public var padTop: Int
    public var padLeft: Int
    public var padBottom: Int
    public var padRight: Int
    public var dilationH: Int
    public var dilationW: Int

    public init(
        batch: Int, channels: Int, inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int,
        kernelH: Int, kernelW: Int, strideH: Int = 1, strideW: Int = 1,
        padTop: Int = 0, padLeft: Int = 0, padBottom: Int = 0, padRight: Int = 0,
        dilationH: Int = 1, dilationW: Int = 1
    ) {
        self.batch = batch
        self.channels = channels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outHeight = outHeight
        self.outWidth = outWidth
        self.kernelH = kernelH
        self.kernelW = kernelW
        self.strideH = strideH
        self.strideW = strideW
        self.padTop = padTop
        self.padLeft = padLeft
        self.padBottom = padBottom
        self.padRight = padRight
        self.dilationH = dilationH
        self.dilationW = dilationW
    }

    /// Output size along one axis in floor or ceil mode; in ceil mode a last window that would start
    /// inside the end padding is dropped (the PyTorch / ONNX Runtime rule).
    public static func outputSize(
        input: Int, kernel: Int, stride: Int, padBegin: Int, padEnd: Int, dilation: Int = 1, ceilMode: Bool
    ) -> Int {
        let span = input + padBegin + padEnd - dilation * (kernel - 1) - 1
        if span < 0 { return 0 }
        var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
        if ceilMode && (out - 1) * stride >= input + padBegin { out -= 1 }
        return out
    }

    fileprivate func validate() {
        precondition(
            batch >= 0 && channels >= 0 && inHeight >= 0 && inWidth >= 0 && outHeight >= 0 && outWidth >= 0,
            "pooling: negative size")
        precondition(kernelH >= 1 && kernelW >= 1 && strideH >= 1 && strideW >= 1, "pooling: bad kernel/stride")
        precondition(dilationH >= 1 && dilationW >= 1, "pooling: bad dilation")
    }
}

/// Max pooling, NCHW: `output[n, c, oh, ow]` is the max of the input cells of the window starting at
/// `(oh * strideH - padTop, ow * strideW - padLeft)` with dilated taps; padding cells and cells past
/// the padded input are ignored (never win). A window with no input cell gives -inf.
/// Output is `[batch, channels, outHeight, outWidth]`.
public func maxPool2d(
    _ s: Pool2DShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    threads: Int = Parallel.maxThreads
) {
    s.validate()
    if s.isUnpadded2x2Stride2 {
        maxPool2x2Stride2(s, input: input, output: output, threads: threads)
        return
    }
    poolPlanes(s, threads: threads) { plane in
        let x = input + plane * s.inHeight * s.inWidth
        let y = output + plane * s.outHeight * s.outWidth
        for oh in 0..<s.outHeight {
            let (h0, h1) = tapRange(oh * s.strideH - s.padTop, s.kernelH, s.dilationH, s.inHeight)
            for ow in 0..<s.outWidth {
                let (w0, w1) = tapRange(ow * s.strideW - s.padLeft, s.kernelW, s.dilationW, s.inWidth)
                var m = -Float.infinity
                let hs = oh * s.strideH - s.padTop
                let ws = ow * s.strideW - s.padLeft
                for kh in h0..<h1 {
                    let row = x + (hs + kh * s.dilationH) * s.inWidth + ws
                    for kw in w0..<w1 { m = max(m, row[kw * s.dilationW]) }
                }
                y[oh * s.outWidth + ow] = m
            }
        }
    }
}

extension Pool2DShape {
    /// The 2x2, stride-2 window with no padding whose every window lies inside the input (floor
    /// mode): the common CNN down-sampling, which has a vectorised path.
    var isUnpadded2x2Stride2: Bool {
        kernelH == 2 && kernelW == 2 && strideH == 2 && strideW == 2 && dilationH == 1 && dilationW == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
            && 2 * outHeight <= inHeight && 2 * outWidth <= inWidth
    }
}

/// `maxPool2d` for `isUnpadded2x2Stride2` shapes: a branch-free loop over each output row that
/// the compiler vectorises (max of the two rows, then of even and odd columns).
private func maxPool2x2Stride2(
    _ s: Pool2DShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, threads: Int
) {
    poolPlanes(s, threads: threads) { plane in
        let x = input + plane * s.inHeight * s.inWidth
        let y = output + plane * s.outHeight * s.outWidth
        for oh in 0..<s.outHeight {
            let r0 = x + 2 * oh * s.inWidth, r1 = r0 + s.inWidth
            let out = y + oh * s.outWidth
            for i in 0..<s.outWidth {
                out[i] = max(max(r0[2 * i], r0[2 * i + 1]), max(r1[2 * i], r1[2 * i + 1]))
            }
        }
    }
}

/// Average pooling, NCHW. The sum runs over the window's input cells. The divisor is, with
/// `countIncludePad == false`, the number of input cells in the window; with `true`, the number of
/// window cells inside the padded input `[-padTop, inHeight + padBottom) x [-padLeft, inWidth +
/// padRight)` — cells beyond it (ceil mode) never count (ONNX semantics). A window with no counted
/// cell gives 0 (the divisor is clamped to 1).
public func averagePool2d(
    _ s: Pool2DShape, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
    countIncludePad: Bool, threads: Int = Parallel.maxThreads
) {
    s.validate()
    poolPlanes(s, threads: threads) { plane in
        let x = input + plane * s.inHeight * s.inWidth
        let y = output + plane * s.outHeight * s.outWidth
        for oh in 0..<s.outHeight {
            let hs = oh * s.strideH - s.padTop
            let (h0, h1) = tapRange(hs, s.kernelH, s.dilationH, s.inHeight)
            let (ph0, ph1) = tapRange(hs + s.padTop, s.kernelH, s.dilationH, s.inHeight + s.padTop + s.padBottom)
            for ow in 0..<s.outWidth {
                let ws = ow * s.strideW - s.padLeft
                let (w0, w1) = tapRange(ws, s.kernelW, s.dilationW, s.inWidth)
                var sum: Float = 0
                for kh in h0..<h1 {
                    let row = x + (hs + kh * s.dilationH) * s.inWidth + ws
                    for kw in w0..<w1 { sum += row[kw * s.dilationW] }
                }
                let count: Int
                if countIncludePad {
                    let (pw0, pw1) = tapRange(
                        ws + s.padLeft, s.kernelW, s.dilationW, s.inWidth + s.padLeft + s.padRight)
                    count = (ph1 - ph0) * (pw1 - pw0)
                } else {
                    count = (h1 - h0) * (w1 - w0)
                }
                y[oh * s.outWidth + ow] = sum / Float(max(count, 1))
            }
        }
    }
}

/// Global average pooling: `[N, C, H, W]` -> `[N, C]` (the mean of each H*W plane; NaN if H*W == 0).
public func globalAveragePool(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
    threads: Int = Parallel.maxThreads
) {
    reduce(
        .mean, input: input, output: output, outer: batch * channels, reduceLength: spatial, inner: 1, threads: threads)
}

/// Global max pooling: `[N, C, H, W]` -> `[N, C]` (-inf if H*W == 0).
public func globalMaxPool(
    input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
    threads: Int = Parallel.maxThreads
) {
    reduce(
        .max, input: input, output: output, outer: batch * channels, reduceLength: spatial, inner: 1, threads: threads)
}

/// Taps `k` in `lo..<hi` of a window starting at `start` with `kernel` taps spaced `dilation`
/// whose position `start + k * dilation` lies in `[0, limit)`.
@inline(__always)
func tapRange(_ start: Int, _ kernel: Int, _ dilation: Int, _ limit: Int) -> (Int, Int) {
    // First k with start + k d >= 0, and one past the last k with start + k d < limit.
    let lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation
    let hi = limit - start <= 0 ? 0 : min(kernel, (limit - start + dilation - 1) / dilation)
    return (lo, max(lo, hi))
}

/// Runs `body(plane)` for every (n, c) plane, split over threads when the work is large enough.
private func poolPlanes(_ s: Pool2DShape, threads: Int, _ body: (Int) -> Void) {
    let planes = s.batch * s.channels
    let work = planes * s.outHeight * s.outWidth * s.kernelH * s.kernelW
    let parts = max(1, min(threads, planes, work / (1 << 15)))
    Parallel.forEach(parts, threads: parts) { part in
        for p in (planes * part / parts)..<(planes * (part + 1) / parts) { body(p) }
    }
}
