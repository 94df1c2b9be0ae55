import Foundation
import Kernels

/// Resize (opsets 10-19) and Upsample (opsets 7-9): nearest, N-D linear and cubic interpolation,
/// applied one axis at a time.
///
/// Every interpolation ONNX defines is separable: the output is the input multiplied along each
/// resized axis by a sparse matrix (`ResizeAxisPlan`: for each output position a few input
/// positions and their weights, built once at compile time). The forward pass applies the axes in
/// order through scratch buffers; nearest interpolation without extrapolation gathers in one pass
/// (each output row is one input row read through a column table, and a row repeated along the
/// next axis up, as in 2x upsampling, is copied). Axes whose size and coordinates do not change
/// are skipped. The op is linear in its input (tf_crop_and_resize adds a constant where it
/// extrapolates), which reverse mode (`ResizeDerivative`) uses.
struct ResizeOperator: Operator {
    let outputTypes: [ValueType]
    let inputShape: [Int]
    /// The resized axes, ascending.
    let plans: [ResizeAxisPlan]
    /// The value of extrapolated outputs (tf_crop_and_resize).
    let extrapolationValue: Float
    /// For the one-pass nearest gather: per axis and output position, the input element offset
    /// (index × the input's stride of that axis); nil when the op is not a plain nearest lookup.
    let nearestOffsets: [[Int]]?
    let threads: Int

    /// The shape before each plan is applied (`stageShapes[i]` is plan i's input) and the output.
    var stageShapes: [[Int]] {
        var shapes = [inputShape]
        for plan in plans {
            var next = shapes.last!
            next[plan.axis] = plan.outSize
            shapes.append(next)
        }
        return shapes
    }

    /// Two ping-pong buffers for the stages between the first and the last plan.
    var workspaceCount: Int {
        guard nearestOffsets == nil, plans.count >= 2 else { return 0 }
        let largest = stageShapes[1..<plans.count].map { $0.reduce(1, *) }.max() ?? 0
        return largest * (plans.count >= 3 ? 2 : 1)
    }

    func forward(_ io: OperatorIO) {
        apply(io.input(0), io.output(0), extrapolation: extrapolationValue, workspace: io.workspace, threads: io.threads)
    }

    /// `output` = Resize(`input`) with `extrapolation` for extrapolated outputs (0 in the tangent pass,
    /// where the constant has no derivative); `workspace` holds `workspaceCount` floats.
    func apply(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, extrapolation: Float,
               workspace: UnsafeMutablePointer<Float>, threads: Int) {
        let total = outputTypes[0].count
        guard total > 0 else { return }
        if plans.isEmpty {
            output.update(from: input, count: total)
            return
        }
        if let nearestOffsets {
            gatherNearest(input, output, offsets: nearestOffsets, threads: threads)
            return
        }
        let shapes = stageShapes
        let second = workspace + (plans.count >= 3 ? (shapes[1..<plans.count].map { $0.reduce(1, *) }.max() ?? 0) : 0)
        var source = input
        for (i, plan) in plans.enumerated() {
            let target = i == plans.count - 1 ? output : (i % 2 == 0 ? workspace : second)
            plan.interpolate(source, target, shape: shapes[i], extrapolation: extrapolation, threads: threads)
            source = UnsafePointer(target)
        }
    }

    /// `inputAdjoint` += Resizeᵀ(`outputAdjoint`): each plan's transpose, from the last axis back.
    func applyAdjoint(_ outputAdjoint: UnsafePointer<Float>, _ inputAdjoint: UnsafeMutablePointer<Float>, threads: Int) {
        let inCount = inputShape.reduce(1, *)
        guard outputTypes[0].count > 0, inCount > 0 else { return }
        if plans.isEmpty {
            addInPlace(inputAdjoint, outputAdjoint, count: inCount, threads: threads)
            return
        }
        let shapes = stageShapes
        func stage(_ i: Int, _ adjoint: UnsafePointer<Float>) {
            if i == 0 {
                plans[0].scatter(adjoint, into: inputAdjoint, shape: shapes[0], threads: threads)
                return
            }
            withScratch(shapes[i].reduce(1, *)) { previous in
                plans[i].scatter(adjoint, into: previous, shape: shapes[i], threads: threads)
                stage(i - 1, previous)
            }
        }
        stage(plans.count - 1, outputAdjoint)
    }

    /// The nearest lookup in one pass: output rows (all axes but the last) are independent.
    private func gatherNearest(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, offsets: [[Int]],
                               threads: Int) {
        let outShape = outputTypes[0].shape, rank = outShape.count
        let width = outShape[rank - 1], rows = outShape.dropLast().reduce(1, *)
        let parts = max(1, min(threads, rows, outputTypes[0].count >> 15))
        offsets.withUnsafeBufferPointer { tables in
            tables[rank - 1].withUnsafeBufferPointer { columns in
                Parallel.forEach(parts, threads: parts) { part in
                    let first = rows * part / parts, last = rows * (part + 1) / parts
                    guard first < last else { return }
                    // Odometer over the leading axes, started at row `first`.
                    var coordinate = [Int](repeating: 0, count: max(rank - 1, 0))
                    var remainder = first
                    for d in stride(from: rank - 2, through: 0, by: -1) {
                        coordinate[d] = remainder % outShape[d]
                        remainder /= outShape[d]
                    }
                    var previousBase = -1
                    for row in first..<last {
                        var base = 0
                        for d in 0..<(rank - 1) { base += tables[d][coordinate[d]] }
                        let target = output + row * width
                        if base == previousBase {
                            target.update(from: target - width, count: width)
                        } else {
                            let source = input + base
                            for j in 0..<width { target[j] = source[columns[j]] }
                        }
                        previousBase = base
                        var d = rank - 2
                        while d >= 0 {
                            coordinate[d] += 1
                            if coordinate[d] < outShape[d] { break }
                            coordinate[d] = 0
                            d -= 1
                        }
                    }
                }
            }
        }
    }
}

/// Where an output coordinate of a Resize samples its input (`coordinate_transformation_mode`).
enum ResizeCoordinates: String {
    case halfPixel = "half_pixel"
    case halfPixelSymmetric = "half_pixel_symmetric"
    case pytorchHalfPixel = "pytorch_half_pixel"
    case alignCorners = "align_corners"
    case asymmetric
    case tfHalfPixelForNN = "tf_half_pixel_for_nn"
    case tfCropAndResize = "tf_crop_and_resize"
}

/// How nearest interpolation rounds a fractional input coordinate (`nearest_mode`); `legacy` is
/// Upsample's and opset-10 Resize's rule as ONNX Runtime implements it: round down when upsampling,
/// up when downsampling.
enum ResizeNearestRounding: String {
    case roundPreferFloor = "round_prefer_floor"
    case roundPreferCeil = "round_prefer_ceil"
    case floor
    case ceil
    case legacy
}

enum ResizeInterpolation {
    case nearest(ResizeNearestRounding)
    case linear
    /// Keys' cubic convolution with coefficient `a` (`cubic_coeff_a`).
    case cubic(a: Double)
}

/// One resized axis: output position y reads input positions `indices[y·taps ..< (y+1)·taps]` with
/// `weights` at the same places (edge positions repeated where the window leaves the input), or is
/// the extrapolation value where `extrapolated[y]` (tf_crop_and_resize only; otherwise empty).
struct ResizeAxisPlan: Sendable {
    let axis: Int
    let inSize: Int
    let outSize: Int
    let taps: Int
    let indices: [Int32]
    let weights: [Float]
    let extrapolated: [Bool]

    /// The plan of one axis, following the ONNX reference implementation (float64 coordinates).
    ///
    /// - scale: output / input length; with `scales` the given value, with `sizes` their ratio. The
    ///   modes that name the output length (align_corners, pytorch_half_pixel,
    ///   half_pixel_symmetric, tf_crop_and_resize) use `scale · inSize`, which differs from
    ///   `outSize` when scales give a fractional length (as ONNX defines it; ONNX Runtime uses
    ///   `outSize` there).
    /// - roi: the axis's (start, end) in normalized input coordinates (tf_crop_and_resize).
    /// - antialias: linear and cubic downsampling widen the kernel by 1/scale (a low-pass filter).
    static func make(axis: Int, inSize: Int, outSize: Int, scale: Double, interpolation: ResizeInterpolation,
                     coordinates: ResizeCoordinates, roi: (Double, Double), antialias: Bool,
                     excludeOutside: Bool) -> ResizeAxisPlan {
        let length = scale * Double(inSize), last = Double(inSize - 1)
        var extrapolated = [Bool](repeating: false, count: coordinates == .tfCropAndResize ? outSize : 0)
        // The window: taps at base + start + k (k < taps) with kernel values at distances
        // (start + k − ratio) · kernelScale, base = ⌈x⌉ − 1 and ratio = x − base in (0, 1].
        let kernelScale = antialias ? min(scale, 1) : 1
        var start = 0, taps = 1
        switch interpolation {
        case .nearest: break
        case .linear:
            start = antialias ? Int((-1 / kernelScale).rounded(.down)) + 1 : 0
            taps = 2 - 2 * start
        case .cubic:
            start = antialias ? Int((-2 / kernelScale).rounded(.down)) + 1 : -1
            taps = 2 - 2 * start
        }
        var indices = [Int32](repeating: 0, count: outSize * taps)
        var weights = [Float](repeating: 0, count: outSize * taps)
        var window = [Double](repeating: 0, count: taps)
        for y in 0..<outSize {
            let o = Double(y)
            let x: Double
            switch coordinates {
            case .halfPixel: x = (o + 0.5) / scale - 0.5
            case .halfPixelSymmetric:
                let offset = Double(inSize) / 2 * (1 - Double(outSize) / length)
                x = offset + (o + 0.5) / scale - 0.5
            case .pytorchHalfPixel: x = length == 1 ? -0.5 : (o + 0.5) / scale - 0.5
            case .alignCorners: x = length == 1 ? 0 : o * last / (length - 1)
            case .asymmetric: x = o / scale
            case .tfHalfPixelForNN: x = (o + 0.5) / scale
            case .tfCropAndResize:
                let span = (roi.1 - roi.0) * last
                x = (length == 1 ? span / 2 : o * span / (length - 1)) + roi.0 * last
                if x < 0 || x > last {
                    extrapolated[y] = true
                    continue
                }
            }
            let base = Int(x.rounded(.up)) - 1
            let ratio = x - Double(base)
            func clamp(_ i: Int) -> Int32 { Int32(min(max(i, 0), inSize - 1)) }
            switch interpolation {
            case .nearest(let rounding):
                let up: Bool
                switch rounding {
                case .roundPreferFloor: up = ratio > 0.5
                case .roundPreferCeil: up = ratio >= 0.5
                case .floor: up = ratio == 1
                case .ceil: up = true
                case .legacy: up = scale < 1 || ratio == 1
                }
                indices[y] = clamp(base + (up ? 1 : 0))
                weights[y] = 1
                continue
            case .linear:
                for k in 0..<taps { window[k] = max(0, 1 - abs((Double(start + k) - ratio) * kernelScale)) }
            case .cubic(let a):
                for k in 0..<taps {
                    let t = abs((Double(start + k) - ratio) * kernelScale)
                    window[k] = t <= 1 ? ((a + 2) * t - (a + 3)) * t * t + 1 : t < 2 ? ((a * t - 5 * a) * t + 8 * a) * t - 4 * a : 0
                }
            }
            if antialias {
                let sum = window.reduce(0, +)
                if sum != 0 { for k in 0..<taps { window[k] /= sum } }
            }
            if excludeOutside {
                for k in 0..<taps where base + start + k < 0 || base + start + k >= inSize { window[k] = 0 }
                let sum = window.reduce(0, +)
                if sum != 0 { for k in 0..<taps { window[k] /= sum } }
            }
            for k in 0..<taps {
                indices[y * taps + k] = clamp(base + start + k)
                weights[y * taps + k] = Float(window[k])
            }
        }
        return ResizeAxisPlan(axis: axis, inSize: inSize, outSize: outSize, taps: taps, indices: indices, weights: weights,
                              extrapolated: extrapolated)
    }

    /// `output` = this axis's interpolation of `input` of `shape` (`shape[axis] == inSize`).
    func interpolate(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, shape: [Int],
                     extrapolation: Float, threads: Int) {
        let outer = Shapes.product(shape, 0..<axis), inner = Shapes.product(shape, (axis + 1)..<shape.count)
        let (inSize, outSize, taps) = (inSize, outSize, taps)
        let parts = max(1, min(threads, outer, (outer * outSize * inner * taps) >> 15))
        indices.withUnsafeBufferPointer { indices in weights.withUnsafeBufferPointer { weights in
            extrapolated.withUnsafeBufferPointer { extrapolated in
                Parallel.forEach(parts, threads: parts) { part in
                    for block in (outer * part / parts)..<(outer * (part + 1) / parts) {
                        let source = input + block * inSize * inner, target = output + block * outSize * inner
                        for y in 0..<outSize {
                            let row = target + y * inner
                            if !extrapolated.isEmpty, extrapolated[y] {
                                row.update(repeating: extrapolation, count: inner)
                                continue
                            }
                            let first = y * taps
                            if inner == 1 {
                                var sum: Float = 0
                                for t in 0..<taps { sum += weights[first + t] * source[Int(indices[first + t])] }
                                row[0] = sum
                                continue
                            }
                            let w0 = weights[first], from0 = source + Int(indices[first]) * inner
                            if taps == 1 && w0 == 1 {
                                row.update(from: from0, count: inner)
                                continue
                            }
                            for i in 0..<inner { row[i] = w0 * from0[i] }
                            for t in 1..<max(taps, 1) {
                                let w = weights[first + t], from = source + Int(indices[first + t]) * inner
                                if w == 0 { continue }
                                for i in 0..<inner { row[i] += w * from[i] }
                            }
                        }
                    }
                }
            }
        } }
    }

    /// `inputAdjoint` (of `shape`, `shape[axis] == inSize`) += the transpose of `interpolate` applied
    /// to `outputAdjoint`; extrapolated positions pass nothing back.
    func scatter(_ outputAdjoint: UnsafePointer<Float>, into inputAdjoint: UnsafeMutablePointer<Float>, shape: [Int],
                 threads: Int) {
        let outer = Shapes.product(shape, 0..<axis), inner = Shapes.product(shape, (axis + 1)..<shape.count)
        let (inSize, outSize, taps) = (inSize, outSize, taps)
        let parts = max(1, min(threads, outer, (outer * outSize * inner * taps) >> 15))
        indices.withUnsafeBufferPointer { indices in weights.withUnsafeBufferPointer { weights in
            extrapolated.withUnsafeBufferPointer { extrapolated in
                Parallel.forEach(parts, threads: parts) { part in
                    for block in (outer * part / parts)..<(outer * (part + 1) / parts) {
                        let source = outputAdjoint + block * outSize * inner, target = inputAdjoint + block * inSize * inner
                        for y in 0..<outSize {
                            if !extrapolated.isEmpty, extrapolated[y] { continue }
                            let row = source + y * inner
                            for t in 0..<taps {
                                let w = weights[y * taps + t]
                                if w == 0 { continue }
                                let to = target + Int(indices[y * taps + t]) * inner
                                for i in 0..<inner { to[i] += w * row[i] }
                            }
                        }
                    }
                }
            }
        } }
    }
}
