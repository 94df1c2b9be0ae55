/// The stride phases of one zero-padded input plane, for convolutions that run each kernel tap as
/// one long shifted loop (depthwise forward, grouped-convolution derivatives).
///
/// The padded plane (Hp x Wp, Hp = H + padTop + padBottom) is split by stride: phase (r, c) holds
/// the padded pixels (i·strideH + r, j·strideW + c), Hq x Wq of them (Hq = ⌈Hp/strideH⌉, Wq =
/// ⌈Wp/strideW⌉), phases stored one after another, row-major. Output (oh, ow) under tap (kh, kw)
/// reads phase ((kh·dilationH) mod strideH, (kw·dilationW) mod strideW) at (oh + kh·dilationH div
/// strideH, ow + kw·dilationW div strideW). An output plane kept in the phases' width (OH x Wq, its
/// last Wq − OW columns unused) therefore meets every tap as the same shift of all its elements:
/// `taps` contiguous elements from `tapOffset(kh, kw)`, where `taps` = (OH − 1)·Wq + OW. For
/// stride 1 there is one phase, the padded plane itself.
public struct StridePhasePlanes: Sendable {
    public let shape: Conv2DShape
    /// Rows and columns of each phase.
    public let rows: Int, columns: Int
    /// Floats of all phases.
    public var count: Int { shape.strideH * shape.strideW * rows * columns }
    /// Elements of an output plane in the phases' width that each tap visits.
    public var taps: Int { (shape.outHeight - 1) * columns + shape.outWidth }

    public init(_ shape: Conv2DShape) {
        self.shape = shape
        rows = (shape.inHeight + shape.padTop + shape.padBottom + shape.strideH - 1) / shape.strideH
        columns = (shape.inWidth + shape.padLeft + shape.padRight + shape.strideW - 1) / shape.strideW
    }

    /// Where tap (kh, kw) starts in the phases.
    @inline(__always)
    public func tapOffset(_ kh: Int, _ kw: Int) -> Int {
        let (dh, dw) = (kh * shape.dilationH, kw * shape.dilationW)
        return ((dh % shape.strideH) * shape.strideW + dw % shape.strideW) * rows * columns
            + (dh / shape.strideH) * columns + dw / shape.strideW
    }

    /// Zeroes `phases` (`count` floats) and copies the input plane (H x W) into them.
    @inline(__always)
    public func fill(_ phases: UnsafeMutablePointer<Float>, from plane: UnsafePointer<Float>) {
        phases.update(repeating: 0, count: count)
        for h in 0..<shape.inHeight { transfer(row: h, UnsafeMutablePointer(mutating: plane), phases, back: false) }
    }

    /// Adds the phases' interior back into the input plane (H x W): the transpose of `fill`.
    @inline(__always)
    public func addBack(_ phases: UnsafePointer<Float>, into plane: UnsafeMutablePointer<Float>) {
        for h in 0..<shape.inHeight { transfer(row: h, plane, UnsafeMutablePointer(mutating: phases), back: true) }
    }

    /// Input row h to its phase rows (or, `back`, added back from them): columns j ≡ c − padLeft
    /// (mod strideW) go to column phase c, one phase column per step.
    @inline(__always)
    private func transfer(row h: Int, _ plane: UnsafeMutablePointer<Float>, _ phases: UnsafeMutablePointer<Float>, back: Bool) {
        let (sh, sw, width) = (shape.strideH, shape.strideW, shape.inWidth)
        let padded = h + shape.padTop
        let source = plane + h * width
        for c in 0..<sw {
            let j0 = ((c - shape.padLeft) % sw + sw) % sw
            guard j0 < width else { continue }
            let target = phases + ((padded % sh) * sw + c) * rows * columns + (padded / sh) * columns + (j0 + shape.padLeft) / sw
            if sw == 1 {
                if back {
                    for j in 0..<width { source[j] += target[j] }
                } else {
                    target.update(from: source, count: width)
                }
                continue
            }
            var k = 0
            if back {
                for j in stride(from: j0, to: width, by: sw) { source[j] += target[k]; k += 1 }
            } else {
                for j in stride(from: j0, to: width, by: sw) { target[k] = source[j]; k += 1 }
            }
        }
    }
}
