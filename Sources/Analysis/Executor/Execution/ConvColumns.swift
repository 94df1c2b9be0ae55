import Kernels

// im2col and col2im for the convolution geometry `Conv2DShape`: the column matrix of one image has a
// row per (input channel, kernel row, kernel column) and a column per output position. Conv's weight
// gradient is a GEMM against im2col of its input; its input gradient, and so the forward pass of a
// transposed convolution (ConvTranspose), is col2im of a GEMM.

extension Conv2DShape {
    /// Output columns [lo, hi) whose input column ow·stride − padLeft + j·dilation is inside the image
    /// (kernel column `j`).
    @inline(__always)
    func columnRange(_ j: Int) -> (Int, Int) {
        let offset = j * dilationW - padLeft
        var lo = 0, hi = outWidth
        while lo < hi && lo * strideW + offset < 0 { lo += 1 }
        while hi > lo && (hi - 1) * strideW + offset >= inWidth { hi -= 1 }
        return (lo, hi)
    }

    /// Writes the column matrix of input channels `channels` of one image `x` ([inChannels, inHeight,
    /// inWidth]): row ((c − channels.lowerBound)·kH + i)·kW + j starts at col + row·ld and holds the
    /// outHeight·outWidth input values kernel tap (i, j) of channel c meets (0 in the padding).
    func im2col(_ x: UnsafePointer<Float>, channels: Range<Int>, _ col: UnsafeMutablePointer<Float>, ld: Int) {
        for c in channels {
            for i in 0..<kernelH {
                for j in 0..<kernelW {
                    let row = col + (((c - channels.lowerBound) * kernelH + i) * kernelW + j) * ld
                    let (lo, hi) = columnRange(j)
                    let offset = j * dilationW - padLeft
                    for oh in 0..<outHeight {
                        let h = oh * strideH - padTop + i * dilationH
                        let out = row + oh * outWidth
                        guard h >= 0 && h < inHeight, lo < hi else {
                            out.update(repeating: 0, count: outWidth)
                            continue
                        }
                        let src = x + (c * inHeight + h) * inWidth + offset
                        for ow in 0..<lo { out[ow] = 0 }
                        if strideW == 1 {
                            (out + lo).update(from: src + lo, count: hi - lo)
                        } else {
                            for ow in lo..<hi { out[ow] = src[ow * strideW] }
                        }
                        for ow in hi..<outWidth { out[ow] = 0 }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each column-matrix entry of input channels `channels` to the
    /// input element it was read from, in one image `x` ([inChannels, inHeight, inWidth]). Entries
    /// that fall in the padding are dropped.
    func col2im(_ col: UnsafePointer<Float>, channels: Range<Int>, _ x: UnsafeMutablePointer<Float>, ld: Int) {
        for c in channels {
            for i in 0..<kernelH {
                for j in 0..<kernelW {
                    let row = col + (((c - channels.lowerBound) * kernelH + i) * kernelW + j) * ld
                    let (lo, hi) = columnRange(j)
                    guard lo < hi else { continue }
                    let offset = j * dilationW - padLeft
                    for oh in 0..<outHeight {
                        let h = oh * strideH - padTop + i * dilationH
                        guard h >= 0 && h < inHeight else { continue }
                        let dst = x + (c * inHeight + h) * inWidth + offset
                        let src = row + oh * outWidth
                        if strideW == 1 {
                            for ow in lo..<hi { dst[ow] += src[ow] }
                        } else {
                            for ow in lo..<hi { dst[ow * strideW] += src[ow] }
                        }
                    }
                }
            }
        }
    }
}
