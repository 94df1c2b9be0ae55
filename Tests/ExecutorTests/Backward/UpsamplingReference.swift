import Executor
import Foundation

/// Float64 references for the gradient tests of ConvTranspose, Resize and DepthToSpace /
/// SpaceToDepth, written from the ONNX definitions element by element (no index tables, no dual
/// convolution): each output element is computed on its own.
extension Float64GradientTests.Interpreter {
    typealias DTensor = Float64GradientTests.DTensor

    static func intList(_ a: [String: Attribute], _ name: String, _ fallback: [Int]) -> [Int] {
        if case .ints(let v)? = a[name] { return v }
        return fallback
    }

    /// ConvTranspose, 1-D or 2-D (N, C, [H,] W) with explicit pads: every input element adds
    /// x · W[ci, co, kh, kw] at output (h·stride − pad + kh·dilation, ...).
    func convTranspose(_ x: DTensor, _ w: DTensor, _ bias: DTensor?, _ a: [String: Attribute]) -> DTensor {
        let oneD = x.shape.count == 3
        let xs = oneD ? [x.shape[0], x.shape[1], 1, x.shape[2]] : x.shape
        let ws = oneD ? [w.shape[0], w.shape[1], 1, w.shape[2]] : w.shape
        func lift(_ v: [Int], _ fill: Int) -> [Int] { oneD ? [fill] + v : v }
        var group = 1
        if case .int(let g)? = a["group"] { group = g }
        let spatial = oneD ? 1 : 2
        let strides = lift(Self.intList(a, "strides", Array(repeating: 1, count: spatial)), 1)
        let dilations = lift(Self.intList(a, "dilations", Array(repeating: 1, count: spatial)), 1)
        let outputPadding = lift(Self.intList(a, "output_padding", Array(repeating: 0, count: spatial)), 0)
        let pads = Self.intList(a, "pads", Array(repeating: 0, count: 2 * spatial))
        let begin = lift(Array(pads[..<spatial]), 0), end = lift(Array(pads[spatial...]), 0)
        let (n, cin, h, wd) = (xs[0], xs[1], xs[2], xs[3])
        let (perGroup, kh, kw) = (ws[1], ws[2], ws[3])
        let cout = perGroup * group, inPerGroup = cin / group
        let oh = strides[0] * (h - 1) + outputPadding[0] + dilations[0] * (kh - 1) + 1 - begin[0] - end[0]
        let ow = strides[1] * (wd - 1) + outputPadding[1] + dilations[1] * (kw - 1) + 1 - begin[1] - end[1]
        var y = [Double](repeating: 0, count: n * cout * oh * ow)
        for b in 0..<n { for c in 0..<cout { for i in 0..<oh { for j in 0..<ow {
            y[((b * cout + c) * oh + i) * ow + j] = bias?.values[c] ?? 0
        } } } }
        for b in 0..<n { for ci in 0..<cin { for i in 0..<h { for j in 0..<wd {
            let value = x.values[((b * cin + ci) * h + i) * wd + j]
            let g = ci / inPerGroup
            for co in 0..<perGroup { for u in 0..<kh { for t in 0..<kw {
                let (r, s) = (i * strides[0] - begin[0] + u * dilations[0], j * strides[1] - begin[1] + t * dilations[1])
                guard r >= 0, r < oh, s >= 0, s < ow else { continue }
                y[((b * cout + g * perGroup + co) * oh + r) * ow + s] += value * w.values[((ci * perGroup + co) * kh + u) * kw + t]
            } } }
        } } } }
        return DTensor(shape: oneD ? [n, cout, ow] : [n, cout, oh, ow], values: y)
    }

    /// Resize (opset 13 semantics) of any rank: each output element is Σ over the taps of every
    /// axis of Π weights · x, with the coordinate of each axis mapped by the ONNX formulas.
    func resize(_ x: DTensor, scales: [Double]?, sizes: [Int]?, roi: [Double]?, _ a: [String: Attribute]) -> DTensor {
        func string(_ name: String, _ fallback: String) -> String {
            if case .string(let v)? = a[name] { return v }
            return fallback
        }
        let mode = string("mode", "nearest"), coordinates = string("coordinate_transformation_mode", "half_pixel")
        let nearestMode = string("nearest_mode", "round_prefer_floor")
        var extrapolation = 0.0, cubicA = -0.75
        if case .float(let v)? = a["extrapolation_value"] { extrapolation = Double(v) }
        if case .float(let v)? = a["cubic_coeff_a"] { cubicA = Double(v) }
        let rank = x.shape.count
        let scale = (0..<rank).map { d in scales.map { $0[d] } ?? Double(sizes![d]) / Double(x.shape[d]) }
        let outShape = (0..<rank).map { d in sizes?[d] ?? Int((scale[d] * Double(x.shape[d])).rounded(.down)) }
        /// (input index, weight) pairs of output position `o` on axis `d`; nil: extrapolated.
        func taps(_ d: Int, _ o: Int) -> [(Int, Double)]? {
            let n = x.shape[d], s = scale[d], length = s * Double(n), y = Double(o)
            var c: Double
            switch coordinates {
            case "asymmetric": c = y / s
            case "align_corners": c = length == 1 ? 0 : y * Double(n - 1) / (length - 1)
            case "tf_crop_and_resize":
                let (start, stop) = (roi![d], roi![rank + d])
                c = (length == 1 ? (stop - start) * Double(n - 1) / 2 : y * (stop - start) * Double(n - 1) / (length - 1))
                    + start * Double(n - 1)
                if c < 0 || c > Double(n - 1) { return nil }
            default: c = (y + 0.5) / s - 0.5
            }
            func clamp(_ i: Int) -> Int { min(max(i, 0), n - 1) }
            let lower = c.rounded(.down), fraction = c - lower
            switch mode {
            case "nearest":
                let pick: Double
                switch nearestMode {
                case "floor": pick = lower
                case "ceil": pick = c.rounded(.up)
                case "round_prefer_ceil": pick = fraction >= 0.5 ? lower + 1 : lower
                default: pick = fraction > 0.5 ? lower + 1 : lower
                }
                return [(clamp(Int(pick)), 1)]
            case "linear":
                return [(clamp(Int(lower)), 1 - fraction), (clamp(Int(lower) + 1), fraction)]
            default:  // cubic: Keys' kernel at distances 1 + t, t, 1 − t, 2 − t
                func kernel(_ distance: Double) -> Double {
                    let t = abs(distance)
                    if t <= 1 { return ((cubicA + 2) * t - (cubicA + 3)) * t * t + 1 }
                    if t < 2 { return ((cubicA * t - 5 * cubicA) * t + 8 * cubicA) * t - 4 * cubicA }
                    return 0
                }
                return (-1...2).map { k in (clamp(Int(lower) + k), kernel(Double(k) - fraction)) }
            }
        }
        let outStrides = DTensor.strides(outShape), inStrides = DTensor.strides(x.shape)
        let total = outShape.reduce(1, *)
        var y = [Double](repeating: 0, count: total)
        for e in 0..<total {
            var terms: [(Int, Double)] = [(0, 1)]
            var outside = false
            for d in 0..<rank {
                guard let axisTaps = taps(d, (e / outStrides[d]) % outShape[d]) else {
                    outside = true
                    break
                }
                terms = terms.flatMap { offset, weight in axisTaps.map { (offset + $0.0 * inStrides[d], weight * $0.1) } }
            }
            y[e] = outside ? extrapolation : terms.reduce(0) { $0 + $1.1 * x.values[$1.0] }
        }
        return DTensor(shape: outShape, values: y)
    }

    /// DepthToSpace (DCR / CRD) and SpaceToDepth on NCHW, from the index formulas.
    func depthSpace(_ x: DTensor, _ op: String, _ a: [String: Attribute]) -> DTensor {
        var block = 1
        if case .int(let v)? = a["blocksize"] { block = v }
        var crd = false
        if case .string(let m)? = a["mode"] { crd = m == "CRD" }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        if op == "DepthToSpace" {
            let depth = c / (block * block)
            let (outH, outW) = (h * block, w * block)
            var y = [Double](repeating: 0, count: x.count)
            for b in 0..<n { for k in 0..<depth { for i in 0..<outH { for j in 0..<outW {
                let bi: Int = i % block, bj: Int = j % block
                let source: Int = crd ? k * block * block + bi * block + bj : (bi * block + bj) * depth + k
                let from: Int = ((b * c + source) * h + i / block) * w + j / block
                let to: Int = ((b * depth + k) * outH + i) * outW + j
                y[to] = x.values[from]
            } } } }
            return DTensor(shape: [n, depth, outH, outW], values: y)
        }
        let (oh, ow) = (h / block, w / block)
        let depth = c * block * block
        var y = [Double](repeating: 0, count: x.count)
        for b in 0..<n { for k in 0..<c { for i in 0..<h { for j in 0..<w {
            let target: Int = ((i % block) * block + j % block) * c + k
            let to: Int = ((b * depth + target) * oh + i / block) * ow + j / block
            y[to] = x.values[((b * c + k) * h + i) * w + j]
        } } } }
        return DTensor(shape: [n, c * block * block, oh, ow], values: y)
    }
}
