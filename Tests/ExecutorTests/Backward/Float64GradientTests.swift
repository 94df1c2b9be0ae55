import Executor
import Foundation
import Testing
import Analysis

/// Every op with a backward, one tiny graph each, against a float64 reference computed here: an
/// independent Double interpreter of the same (unsimplified) graph evaluates the loss, and central
/// differences with step 1e-5 give the gradient with respect to the input and to every quantizable
/// weight (truncation error ~1e-10, rounding ~1e-11 in Double). qscope's Float32 reverse mode must
/// match within 1e-3 of the largest gradient entry (Float32 rounding of the forward and backward
/// passes is ~1e-6 relative; the bound leaves room for the ops' reductions).
@Suite("reverse mode vs float64 finite differences")
struct Float64GradientTests {
    typealias Builder = OpGradientTests.Builder

    // MARK: - Double interpreter

    struct DTensor {
        var shape: [Int]
        var values: [Double]
        var count: Int { values.count }
        static func strides(_ shape: [Int]) -> [Int] {
            var s = [Int](repeating: 1, count: shape.count)
            for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
            return s
        }
    }

    struct Interpreter {
        let graph: Graph

        func ints(_ id: ValueID?) -> [Int] { graph.constants[id!]!.integers!.map { Int($0) } }

        func broadcast(_ a: DTensor, _ b: DTensor, _ f: (Double, Double) -> Double) -> DTensor {
            let rank = max(a.shape.count, b.shape.count)
            let sa = Array(repeating: 1, count: rank - a.shape.count) + a.shape
            let sb = Array(repeating: 1, count: rank - b.shape.count) + b.shape
            let shape = zip(sa, sb).map { max($0, $1) }
            let (ta, tb, to) = (DTensor.strides(sa), DTensor.strides(sb), DTensor.strides(shape))
            let n = shape.reduce(1, *)
            var out = [Double](repeating: 0, count: n)
            for i in 0..<n {
                var ia = 0, ib = 0
                for d in 0..<rank {
                    let c = (i / to[d]) % shape[d]
                    if sa[d] > 1 { ia += c * ta[d] }
                    if sb[d] > 1 { ib += c * tb[d] }
                }
                out[i] = f(a.values[ia], b.values[ib])
            }
            return DTensor(shape: shape, values: out)
        }

        func matmul(_ a: DTensor, _ b: DTensor) -> DTensor {
            // Batched over leading dims of a (b either rank 2 or the same batch dims).
            let (m, k) = (a.shape[a.shape.count - 2], a.shape.last!)
            let n = b.shape.last!
            let batch = a.count / (m * k)
            let bBatched = b.shape.count > 2
            var out = [Double](repeating: 0, count: batch * m * n)
            for p in 0..<batch {
                for i in 0..<m { for j in 0..<n {
                    var s = 0.0
                    for t in 0..<k { s += a.values[p * m * k + i * k + t] * b.values[(bBatched ? p * k * n : 0) + t * n + j] }
                    out[p * m * n + i * n + j] = s
                } }
            }
            return DTensor(shape: Array(a.shape.dropLast()) + [n], values: out)
        }

        func transpose(_ x: DTensor, _ perm: [Int]) -> DTensor {
            let shape = perm.map { x.shape[$0] }
            let (si, so) = (DTensor.strides(x.shape), DTensor.strides(shape))
            var out = [Double](repeating: 0, count: x.count)
            for i in 0..<x.count {
                var src = 0
                for d in 0..<shape.count { src += ((i / so[d]) % shape[d]) * si[perm[d]] }
                out[i] = x.values[src]
            }
            return DTensor(shape: shape, values: out)
        }

        /// Copies the block `ranges` (one per axis) of `x`.
        func block(_ x: DTensor, _ ranges: [Range<Int>]) -> DTensor {
            let shape = ranges.map(\.count)
            let (si, so) = (DTensor.strides(x.shape), DTensor.strides(shape))
            var out = [Double](repeating: 0, count: shape.reduce(1, *))
            for i in 0..<out.count {
                var src = 0
                for d in 0..<shape.count { src += (ranges[d].lowerBound + (i / so[d]) % shape[d]) * si[d] }
                out[i] = x.values[src]
            }
            return DTensor(shape: shape, values: out)
        }

        func run(_ input: DTensor, overrides: [ValueID: [Double]] = [:]) -> DTensor {
            var env: [ValueID: DTensor] = [graph.inputIDs[0]: input]
            func get(_ id: ValueID?) -> DTensor {
                if let v = env[id!] { return v }
                let c = graph.constants[id!]!
                return DTensor(shape: c.shape, values: overrides[id!] ?? c.values.map(Double.init))
            }
            for node in graph.nodes {
                let x = get(node.inputs[0])
                let a = node.attributes
                func int(_ name: String, _ d: Int) -> Int { if case .int(let v)? = a[name] { return v }; return d }
                func axis(_ rank: Int) -> Int { (int("axis", -1) + rank) % rank }
                var outs: [DTensor]
                func float(_ name: String, _ d: Double) -> Double { if case .float(let v)? = a[name] { return Double(v) }; return d }
                func scalar(_ i: Int, _ d: Double) -> Double { i < node.inputs.count && node.inputs[i] != nil ? get(node.inputs[i]).values[0] : d }
                if let f = Self.unary(node.opType, float: float, scalar: scalar) {
                    env[node.outputs[0]] = DTensor(shape: x.shape, values: x.values.map(f))
                    continue
                }
                switch node.opType {
                case "Relu": outs = [DTensor(shape: x.shape, values: x.values.map { max($0, 0) })]
                case "Erf": outs = [DTensor(shape: x.shape, values: x.values.map { Foundation.erf($0) })]
                case "Tanh": outs = [DTensor(shape: x.shape, values: x.values.map { Foundation.tanh($0) })]
                case "Sigmoid": outs = [DTensor(shape: x.shape, values: x.values.map { 1 / (1 + Foundation.exp(-$0)) })]
                case "Add": outs = [broadcast(x, get(node.inputs[1]), +)]
                case "Sub": outs = [broadcast(x, get(node.inputs[1]), -)]
                case "Mul": outs = [broadcast(x, get(node.inputs[1]), *)]
                case "Div": outs = [broadcast(x, get(node.inputs[1]), /)]
                case "Pow": outs = [broadcast(x, get(node.inputs[1]), Foundation.pow)]
                case "Dropout": outs = [x]
                case "Sum", "Mean", "Max", "Min":
                    let f: (Double, Double) -> Double = node.opType == "Max" ? { Swift.max($0, $1) } : node.opType == "Min" ? { Swift.min($0, $1) } : { $0 + $1 }
                    var y = x
                    for id in node.inputs.dropFirst() { y = broadcast(y, get(id), f) }
                    if node.opType == "Mean" { y.values = y.values.map { $0 / Double(node.inputs.count) } }
                    outs = [y]
                case "Greater": outs = [broadcast(x, get(node.inputs[1])) { $0 > $1 ? 1 : 0 }]
                case "Where":
                    let picked = broadcast(broadcast(x, get(node.inputs[1])) { c, _ in c }, get(node.inputs[2])) { c, _ in c }
                    let a = broadcast(broadcast(get(node.inputs[1]), x) { v, _ in v }, get(node.inputs[2])) { v, _ in v }
                    let b = broadcast(broadcast(get(node.inputs[2]), x) { v, _ in v }, get(node.inputs[1])) { v, _ in v }
                    outs = [DTensor(shape: a.shape, values: (0..<a.count).map { picked.values[$0] != 0 ? a.values[$0] : b.values[$0] })]
                case "PRelu": outs = [broadcast(x, get(node.inputs[1])) { $0 < 0 ? $0 * $1 : $0 }]
                case "Pad":
                    let pads = ints(node.inputs[1]), rank = x.shape.count
                    var mode = "constant"
                    if case .string(let m)? = a["mode"] { mode = m }
                    let shape = (0..<rank).map { x.shape[$0] + pads[$0] + pads[$0 + rank] }
                    let (si, so) = (DTensor.strides(x.shape), DTensor.strides(shape))
                    let v = (0..<shape.reduce(1, *)).map { i -> Double in
                        var src = 0
                        for d in 0..<rank {
                            var c = (i / so[d]) % shape[d] - pads[d]
                            let n = x.shape[d]
                            if c < 0 || c >= n {
                                guard mode == "reflect" else { return 0 }
                                c = c < 0 ? -c : 2 * (n - 1) - c
                            }
                            src += c * si[d]
                        }
                        return x.values[src]
                    }
                    outs = [DTensor(shape: shape, values: v)]
                case "LogSoftmax":
                    let n = x.shape.last!
                    var v = x.values
                    for r in 0..<(x.count / n) {
                        let row = v[(r * n)..<(r * n + n)]
                        let m = row.max()!
                        let lse = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
                        for j in 0..<n { v[r * n + j] -= lse }
                    }
                    outs = [DTensor(shape: x.shape, values: v)]
                case "BatchNormalization":
                    let (g, b, mean, variance) = (get(node.inputs[1]), get(node.inputs[2]), get(node.inputs[3]), get(node.inputs[4]))
                    let eps = float("epsilon", 1e-5)
                    let channels = x.shape[1], spatial = x.count / (x.shape[0] * channels)
                    let v = x.values.enumerated().map { i, value -> Double in
                        let c = (i / spatial) % channels
                        // The scale in float32, as the executor (and the ONNX exporters' folding) forms it.
                        let scale = Double(Float(g.values[c]) / (Float(variance.values[c]) + Float(eps)).squareRoot())
                        return (value - mean.values[c]) * scale + b.values[c]
                    }
                    outs = [DTensor(shape: x.shape, values: v)]
                case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceSumSquare",
                     "ReduceLogSum", "ReduceLogSumExp":
                    var axes: [Int]
                    if case .ints(let v)? = a["axes"] { axes = v } else { axes = ints(node.inputs[1]) }
                    axes = axes.map { ($0 + x.shape.count) % x.shape.count }
                    let keep = int("keepdims", 1) == 1
                    var outShape = x.shape
                    for ax in axes { outShape[ax] = 1 }
                    let (si, so) = (DTensor.strides(x.shape), DTensor.strides(outShape))
                    var groups = [[Double]](repeating: [], count: outShape.reduce(1, *))
                    for i in 0..<x.count {
                        var o = 0
                        for d in 0..<x.shape.count where !axes.contains(d) { o += ((i / si[d]) % x.shape[d]) * so[d] }
                        groups[o].append(x.values[i])
                    }
                    let v = groups.map { g -> Double in
                        switch node.opType {
                        case "ReduceSum": return g.reduce(0, +)
                        case "ReduceMean": return g.reduce(0, +) / Double(g.count)
                        case "ReduceMax": return g.max()!
                        case "ReduceMin": return g.min()!
                        case "ReduceL1": return g.reduce(0) { $0 + Swift.abs($1) }
                        case "ReduceL2": return g.reduce(0) { $0 + $1 * $1 }.squareRoot()
                        case "ReduceSumSquare": return g.reduce(0) { $0 + $1 * $1 }
                        case "ReduceLogSum": return Foundation.log(g.reduce(0, +))
                        default: let m = g.max()!; return m + Foundation.log(g.reduce(0) { $0 + Foundation.exp($1 - m) })
                        }
                    }
                    outs = [DTensor(shape: keep ? outShape : outShape.enumerated().filter { !axes.contains($0.offset) }.map(\.element), values: v)]
                case "Tile":
                    let repeats = ints(node.inputs[1])
                    let shape = zip(x.shape, repeats).map { $0 * $1 }
                    let (si, so) = (DTensor.strides(x.shape), DTensor.strides(shape))
                    let v = (0..<shape.reduce(1, *)).map { i -> Double in
                        var src = 0
                        for d in 0..<shape.count { src += (((i / so[d]) % shape[d]) % x.shape[d]) * si[d] }
                        return x.values[src]
                    }
                    outs = [DTensor(shape: shape, values: v)]
                case "GlobalMaxPool":
                    let hw = x.shape[2...].reduce(1, *)
                    let v = (0..<(x.shape[0] * x.shape[1])).map { p in x.values[(p * hw)..<(p * hw + hw)].max()! }
                    outs = [DTensor(shape: [x.shape[0], x.shape[1], 1, 1], values: v)]
                case "AveragePool":
                    var k = [2, 2], st = [2, 2], pads = [0, 0, 0, 0]
                    if case .ints(let v)? = a["kernel_shape"] { k = v }
                    if case .ints(let v)? = a["strides"] { st = v }
                    if case .ints(let v)? = a["pads"] { pads = v }
                    let includePad = int("count_include_pad", 0) == 1, ceil = int("ceil_mode", 0) == 1
                    let (nc, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
                    func size(_ n: Int, _ d: Int) -> Int {
                        let span = n + pads[d] + pads[d + 2] - k[d]
                        var o = (ceil ? (span + st[d] - 1) / st[d] : span / st[d]) + 1
                        // A last window that starts in the end padding is dropped (ONNX, PyTorch).
                        if ceil && (o - 1) * st[d] >= n + pads[d] { o -= 1 }
                        return o
                    }
                    let (oh, ow) = (size(h, 0), size(w, 1))
                    var v = [Double](repeating: 0, count: nc * oh * ow)
                    for p in 0..<nc { for i in 0..<oh { for j in 0..<ow {
                        var sum = 0.0, inside = 0, padded = 0
                        for u in 0..<k[0] { for t in 0..<k[1] {
                            let (y, xx) = (i * st[0] - pads[0] + u, j * st[1] - pads[1] + t)
                            if y < h + pads[2] && xx < w + pads[3] { padded += 1 }
                            if y >= 0 && y < h && xx >= 0 && xx < w { sum += x.values[(p * h + y) * w + xx]; inside += 1 }
                        } }
                        v[(p * oh + i) * ow + j] = sum / Double(includePad ? padded : inside)
                    } } }
                    outs = [DTensor(shape: [x.shape[0], x.shape[1], oh, ow], values: v)]
                case "MatMul": outs = [matmul(x, get(node.inputs[1]))]
                case "Gemm":
                    var w = get(node.inputs[1])
                    if int("transB", 0) == 1 { w = transpose(w, [1, 0]) }
                    var y = matmul(x, w)
                    if node.inputs.count > 2 { y = broadcast(y, get(node.inputs[2]), +) }
                    outs = [y]
                case "Softmax":
                    // Any axis (opset 13 semantics).
                    let ax = axis(x.shape.count)
                    let (outer, n, inner) = (x.shape[..<ax].reduce(1, *), x.shape[ax], x.shape[(ax + 1)...].reduce(1, *))
                    var v = x.values
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let at = (0..<n).map { (o * n + $0) * inner + i }
                            let m = at.map { x.values[$0] }.max()!
                            let s = at.reduce(0) { $0 + Foundation.exp(x.values[$1] - m) }
                            for j in at { v[j] = Foundation.exp(x.values[j] - m) / s }
                        }
                    }
                    outs = [DTensor(shape: x.shape, values: v)]
                case "Equal": outs = [broadcast(x, get(node.inputs[1])) { $0 == $1 ? 1 : 0 }]
                case "Cast": outs = [x]  // the tests cast exact integers and bools
                case "Not": outs = [DTensor(shape: x.shape, values: x.values.map { $0 == 0 ? 1 : 0 })]
                case "LayerNormalization":
                    let n = x.shape.last!
                    let (g, b) = (get(node.inputs[1]), get(node.inputs[2]))
                    var eps = 1e-5
                    if case .float(let e)? = a["epsilon"] { eps = Double(e) }
                    var v = x.values
                    for r in 0..<(x.count / n) {
                        let row = v[(r * n)..<(r * n + n)]
                        let mean = row.reduce(0, +) / Double(n)
                        let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
                        for j in 0..<n { v[r * n + j] = (row[r * n + j] - mean) / (variance + eps).squareRoot() * g.values[j] + b.values[j] }
                    }
                    outs = [DTensor(shape: x.shape, values: v)]
                case "InstanceNormalization", "GroupNormalization":
                    // Rows of one group of one sample; scale and bias per channel (per group for
                    // GroupNormalization before opset 21).
                    let (g, b) = (get(node.inputs[1]), get(node.inputs[2]))
                    let channels = x.shape[1], groups = node.opType == "InstanceNormalization" ? channels : int("num_groups", 1)
                    let eps = float("epsilon", 1e-5)
                    let columns = x.count / (x.shape[0] * groups), spatial = x.count / (x.shape[0] * channels)
                    let perGroup = node.opType == "GroupNormalization" && graph.opset < 21
                    var v = x.values
                    for r in 0..<(x.count / columns) {
                        let row = x.values[(r * columns)..<((r + 1) * columns)]
                        let mean = row.reduce(0, +) / Double(columns)
                        let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(columns)
                        for j in 0..<columns {
                            let k = perGroup ? r % groups : (r * columns + j) / spatial % channels
                            v[r * columns + j] = (x.values[r * columns + j] - mean) / (variance + eps).squareRoot() * g.values[k] + b.values[k]
                        }
                    }
                    outs = [DTensor(shape: x.shape, values: v)]
                case "LpNormalization":
                    let ax = axis(x.shape.count), p = int("p", 2)
                    let (outer, n, inner) = (x.shape[..<ax].reduce(1, *), x.shape[ax], x.shape[(ax + 1)...].reduce(1, *))
                    var v = x.values
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let indices = (0..<n).map { (o * n + $0) * inner + i }
                            let norm = p == 1 ? indices.reduce(0) { $0 + Swift.abs(x.values[$1]) }
                                : indices.reduce(0) { $0 + x.values[$1] * x.values[$1] }.squareRoot()
                            for e in indices { v[e] = x.values[e] / norm }
                        }
                    }
                    outs = [DTensor(shape: x.shape, values: v)]
                case "Conv":
                    let w = get(node.inputs[1])
                    let (nb, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
                    let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
                    let groups = int("group", 1), cg = c / groups
                    var pads = [0, 0, 0, 0], strides = [1, 1]
                    if case .ints(let p)? = a["pads"] { pads = p }
                    if case .ints(let s)? = a["strides"] { strides = s }
                    let oh = (h + pads[0] + pads[2] - kh) / strides[0] + 1, ow = (wd + pads[1] + pads[3] - kw) / strides[1] + 1
                    let bias = node.inputs.count > 2 ? get(node.inputs[2]).values : Array(repeating: 0, count: o)
                    var v = [Double](repeating: 0, count: nb * o * oh * ow)
                    for n in 0..<nb { for f in 0..<o { for i in 0..<oh { for j in 0..<ow {
                        var s = bias[f]
                        for ci in 0..<cg { for u in 0..<kh { for t in 0..<kw {
                            let ch = f / (o / groups) * cg + ci
                            let (y, xx) = (i * strides[0] + u - pads[0], j * strides[1] + t - pads[1])
                            if y >= 0 && y < h && xx >= 0 && xx < wd {
                                s += x.values[((n * c + ch) * h + y) * wd + xx] * w.values[((f * cg + ci) * kh + u) * kw + t]
                            }
                        } } }
                        v[((n * o + f) * oh + i) * ow + j] = s
                    } } } }
                    outs = [DTensor(shape: [nb, o, oh, ow], values: v)]
                case "MaxPool":
                    var k = [2, 2]
                    if case .ints(let kk)? = a["kernel_shape"] { k = kk }
                    let (nc, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
                    let (oh, ow) = (h / k[0], w / k[1])
                    var v = [Double](repeating: 0, count: nc * oh * ow)
                    for p in 0..<nc { for i in 0..<oh { for j in 0..<ow {
                        var m = -Double.infinity
                        for u in 0..<k[0] { for t in 0..<k[1] { m = max(m, x.values[(p * h + i * k[0] + u) * w + j * k[1] + t]) } }
                        v[(p * oh + i) * ow + j] = m
                    } } }
                    outs = [DTensor(shape: [x.shape[0], x.shape[1], oh, ow], values: v)]
                case "GlobalAveragePool":
                    let hw = x.shape[2...].reduce(1, *)
                    let v = (0..<(x.shape[0] * x.shape[1])).map { p in x.values[(p * hw)..<(p * hw + hw)].reduce(0, +) / Double(hw) }
                    outs = [DTensor(shape: [x.shape[0], x.shape[1], 1, 1], values: v)]
                case "Flatten":
                    outs = [DTensor(shape: [x.shape[0], x.count / x.shape[0]], values: x.values)]
                case "Reshape":
                    outs = [DTensor(shape: ints(node.inputs[1]), values: x.values)]
                case "Transpose":
                    var perm = Array((0..<x.shape.count).reversed())
                    if case .ints(let p)? = a["perm"] { perm = p }
                    outs = [transpose(x, perm)]
                case "Concat":
                    let parts = node.inputs.map { get($0) }
                    let ax = axis(x.shape.count)
                    let outer = x.shape[..<ax].reduce(1, *)
                    var v: [Double] = []
                    for o in 0..<outer {
                        for p in parts {
                            let inner = p.shape[ax...].reduce(1, *)
                            v += p.values[(o * inner)..<(o * inner + inner)]
                        }
                    }
                    var shape = x.shape
                    shape[ax] = parts.map { $0.shape[ax] }.reduce(0, +)
                    outs = [DTensor(shape: shape, values: v)]
                case "Split":
                    let ax = axis(x.shape.count)
                    var start = 0
                    outs = []
                    for size in ints(node.inputs[1]) {
                        var ranges = x.shape.map { 0..<$0 }
                        ranges[ax] = start..<(start + size)
                        outs.append(block(x, ranges))
                        start += size
                    }
                case "Slice":
                    let (starts, ends, axes) = (ints(node.inputs[1]), ints(node.inputs[2]), ints(node.inputs[3]))
                    var ranges = x.shape.map { 0..<$0 }
                    for (s, (e, ax)) in zip(starts, zip(ends, axes)) { ranges[ax] = s..<min(e, x.shape[ax]) }
                    outs = [block(x, ranges)]
                case "Gather":
                    // Any axis, indices of any shape (constant, or computed: ArgMax of the input).
                    let ax = (int("axis", 0) + x.shape.count) % x.shape.count
                    let idx = get(node.inputs[1])
                    let (outer, n, inner) = (x.shape[..<ax].reduce(1, *), x.shape[ax], x.shape[(ax + 1)...].reduce(1, *))
                    var v: [Double] = []
                    for o in 0..<outer {
                        for i in idx.values {
                            let k = (Int(i) + n) % n
                            v += x.values[((o * n + k) * inner)..<((o * n + k) * inner + inner)]
                        }
                    }
                    outs = [DTensor(shape: Array(x.shape[..<ax]) + idx.shape + Array(x.shape[(ax + 1)...]), values: v)]
                case "ArgMax":
                    let ax = (int("axis", 0) + x.shape.count) % x.shape.count
                    let (outer, n, inner) = (x.shape[..<ax].reduce(1, *), x.shape[ax], x.shape[(ax + 1)...].reduce(1, *))
                    var v: [Double] = []
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let column = (0..<n).map { x.values[(o * n + $0) * inner + i] }
                            v.append(Double(column.firstIndex(of: column.max()!)!))
                        }
                    }
                    var shape = x.shape
                    if int("keepdims", 1) == 1 { shape[ax] = 1 } else { shape.remove(at: ax) }
                    outs = [DTensor(shape: shape, values: v)]
                case "GatherElements":
                    let ax = (int("axis", 0) + x.shape.count) % x.shape.count
                    let idx = get(node.inputs[1])
                    let (si, so) = (DTensor.strides(x.shape), DTensor.strides(idx.shape))
                    let v = (0..<idx.count).map { i -> Double in
                        var src = 0
                        for d in 0..<idx.shape.count {
                            let c = d == ax ? (Int(idx.values[i]) + x.shape[ax]) % x.shape[ax] : (i / so[d]) % idx.shape[d]
                            src += c * si[d]
                        }
                        return x.values[src]
                    }
                    outs = [DTensor(shape: idx.shape, values: v)]
                case "GatherND":
                    let b = int("batch_dims", 0)
                    let idx = get(node.inputs[1])
                    let depth = idx.shape.last!
                    let si = DTensor.strides(x.shape)
                    let batches = x.shape[..<b].reduce(1, *), tuples = idx.count / depth / batches
                    let slice = x.shape[(b + depth)...].reduce(1, *), perBatch = x.count / batches
                    var v: [Double] = []
                    for p in 0..<batches {
                        for t in 0..<tuples {
                            var src = p * perBatch
                            for j in 0..<depth {
                                src += (Int(idx.values[(p * tuples + t) * depth + j]) + x.shape[b + j]) % x.shape[b + j] * si[b + j]
                            }
                            v += x.values[src..<(src + slice)]
                        }
                    }
                    outs = [DTensor(shape: Array(idx.shape.dropLast()) + Array(x.shape[(b + depth)...]), values: v)]
                case "CumSum":
                    let ax = (ints(node.inputs[1])[0] + x.shape.count) % x.shape.count
                    let (outer, n, inner) = (x.shape[..<ax].reduce(1, *), x.shape[ax], x.shape[(ax + 1)...].reduce(1, *))
                    let (exclusive, reverse) = (int("exclusive", 0) == 1, int("reverse", 0) == 1)
                    var v = x.values
                    for o in 0..<outer {
                        for i in 0..<inner {
                            for k in 0..<n {
                                let range = reverse ? ((exclusive ? k + 1 : k)..<n) : (0..<(exclusive ? k : k + 1))
                                v[(o * n + k) * inner + i] = range.reduce(0.0) { $0 + x.values[(o * n + $1) * inner + i] }
                            }
                        }
                    }
                    outs = [DTensor(shape: x.shape, values: v)]
                case "Trilu":
                    let k = node.inputs.count > 1 ? ints(node.inputs[1])[0] : 0
                    let upper = int("upper", 1) == 1
                    let (rows, columns) = (x.shape[x.shape.count - 2], x.shape.last!)
                    let v = x.values.enumerated().map { e, value -> Double in
                        let (r, c) = ((e / columns) % rows, e % columns)
                        return (upper ? c - r >= k : c - r <= k) ? value : 0
                    }
                    outs = [DTensor(shape: x.shape, values: v)]
                case "Einsum":
                    guard case .string(let equation)? = a["equation"] else { fatalError("Einsum without an equation") }
                    let operands = node.inputs.map { get($0) }
                    let result = TransformerOpTests.einsumReference(equation, operands.map(\.shape), operands.map(\.values))
                    outs = [DTensor(shape: result.shape, values: result.values)]
                case "ConvTranspose":
                    outs = [convTranspose(x, get(node.inputs[1]), node.inputs.count > 2 ? get(node.inputs[2]) : nil, a)]
                case "Resize":
                    let scales = node.inputs.count > 2 && node.inputs[2] != nil ? get(node.inputs[2]).values : nil
                    let sizes = node.inputs.count > 3 && node.inputs[3] != nil ? ints(node.inputs[3]) : nil
                    let roi = node.inputs.count > 1 && node.inputs[1] != nil ? get(node.inputs[1]).values : nil
                    outs = [resize(x, scales: scales, sizes: sizes, roi: roi, a)]
                case "DepthToSpace", "SpaceToDepth":
                    outs = [depthSpace(x, node.opType, a)]
                default:
                    fatalError("the float64 reference has no \(node.opType)")
                }
                for (id, value) in zip(node.outputs, outs) { env[id] = value }
            }
            return env[graph.outputIDs[0]]!
        }

        /// The unary functions of the ONNX spec in Double, or nil for other ops (`float`: an
        /// attribute, `scalar`: a constant scalar input, each with its default).
        static func unary(_ op: String, float: (String, Double) -> Double, scalar: (Int, Double) -> Double) -> ((Double) -> Double)? {
            switch op {
            case "Exp": return { Foundation.exp($0) }
            case "Log": return { Foundation.log($0) }
            case "Sqrt": return { $0.squareRoot() }
            case "Neg": return { -$0 }
            case "Abs": return { Swift.abs($0) }
            case "Reciprocal": return { 1 / $0 }
            case "Sin": return { Foundation.sin($0) }
            case "Cos": return { Foundation.cos($0) }
            case "Softplus": return { Foundation.log1p(Foundation.exp($0)) }
            case "Softsign": return { $0 / (1 + Swift.abs($0)) }
            case "HardSwish": return { $0 * Swift.max(0, Swift.min(1, $0 / 6 + 0.5)) }
            case "Floor": return { $0.rounded(.down) }
            case "LeakyRelu": let alpha = float("alpha", 0.01); return { $0 >= 0 ? $0 : alpha * $0 }
            case "Elu": let alpha = float("alpha", 1); return { $0 >= 0 ? $0 : alpha * (Foundation.exp($0) - 1) }
            case "Selu":
                let alpha = float("alpha", 1.67326319217681884765625), gamma = float("gamma", 1.05070102214813232421875)
                return { gamma * ($0 > 0 ? $0 : alpha * (Foundation.exp($0) - 1)) }
            case "HardSigmoid":
                let alpha = float("alpha", 0.2), beta = float("beta", 0.5)
                return { Swift.max(0, Swift.min(1, alpha * $0 + beta)) }
            case "Mish": return { $0 * Foundation.tanh(Foundation.log1p(Foundation.exp($0))) }
            case "Celu": let alpha = float("alpha", 1); return { Swift.max(0, $0) + Swift.min(0, alpha * (Foundation.exp($0 / alpha) - 1)) }
            case "Shrink":
                let lambda = float("lambd", 0.5), bias = float("bias", 0)
                return { $0 < -lambda ? $0 + bias : ($0 > lambda ? $0 - bias : 0) }
            case "ThresholdedRelu": let alpha = float("alpha", 1); return { $0 > alpha ? $0 : 0 }
            case "Clip": let low = scalar(1, -.infinity), high = scalar(2, .infinity); return { Swift.min(Swift.max($0, low), high) }
            case "Gelu": // approximate = "tanh" in these tests
                return { x in 0.5 * x * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) }
            default: return nil
            }
        }

        /// Mean cross-entropy of the logits [batch, classes] with `labels`.
        func loss(_ input: DTensor, labels: [Int], overrides: [ValueID: [Double]] = [:]) -> Double {
            let z = run(input, overrides: overrides)
            let classes = z.shape[1]
            var total = 0.0
            for (n, label) in labels.enumerated() {
                let row = z.values[(n * classes)..<(n * classes + classes)]
                let m = row.max()!
                let logSum = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
                total += logSum - row[n * classes + label]
            }
            return total / Double(labels.count)
        }
    }

    // MARK: - The check

    /// Builds `body`'s graph on input `[batch] + shape` (output `logits`, 3 classes), then compares
    /// qscope's input and weight gradients with float64 central differences.
    ///
    /// With `hessian`, also qscope's Hessian-vector product for one random direction v over all
    /// weights against float64 mixed central differences of the loss,
    /// (Hv)_i ≈ [L(w + h·e_i + h·v) − L(w + h·e_i − h·v) − L(w − h·e_i + h·v) + L(w − h·e_i − h·v)] / 4h²
    /// with h = 1e-4 (truncation ~1e-8, rounding ~1e-8 relative in Double).
    static func check(_ what: String, shape: [Int], batch: Int = 2, hessian: Bool = false, _ body: (inout Builder) -> Void) throws {
        var b = Builder()
        b.seed = UInt64(what.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) })
        body(&b)
        let raw = b.graph
        let model = try b.finish(input: shape, output: "logits", classes: 3)
        var graph = raw
        graph.inputIDs = [b.id("x")]
        graph.outputIDs = [b.id("logits")]
        let reference = Interpreter(graph: graph)
        let count = batch * shape.reduce(1, *)
        let input = (0..<count).map { _ in b.random() }
        let labels = (0..<batch).map { $0 % 3 }
        let engine = try ReverseMode(model: model, batch: batch, sampleShape: shape)
        let loss = try input.withUnsafeBufferPointer { try engine.prepare(input: $0.baseAddress!, target: .labels(labels), scale: 1 / Float(batch)) }
        let x = DTensor(shape: [batch] + shape, values: input.map(Double.init))
        #expect(abs(loss - reference.loss(x, labels: labels)) <= 1e-5 * max(1, abs(loss)), "\(what): loss")
        let h = 1e-5
        // Input gradient.
        let inputGradient = Array(engine.gradient(model.graph.inputIDs[0])!)
        var fd = [Double](repeating: 0, count: count)
        for i in 0..<count {
            var up = x, down = x
            up.values[i] += h
            down.values[i] -= h
            fd[i] = (reference.loss(up, labels: labels) - reference.loss(down, labels: labels)) / (2 * h)
        }
        compare(inputGradient, fd, "\(what): input gradient")
        // Every quantizable weight (the ops' own weights and the head).
        for layer in model.layers {
            let id = raw.constants.keys.first { raw.valueNames[$0] == model.graph.valueNames[layer.weight] }!
            let w = raw.constants[id]!.values.map(Double.init)
            let gradient = Array(engine.gradient(layer.weight)!)
            var fdW = [Double](repeating: 0, count: w.count)
            for i in 0..<w.count {
                var up = w, down = w
                up[i] += h
                down[i] -= h
                fdW[i] = (reference.loss(x, labels: labels, overrides: [id: up]) - reference.loss(x, labels: labels, overrides: [id: down])) / (2 * h)
            }
            compare(gradient, fdW, "\(what): gradient of \(layer.name)")
        }
        guard hessian else { return }
        let ids = model.layers.map { layer in raw.constants.keys.first { raw.valueNames[$0] == model.graph.valueNames[layer.weight] }! }
        let weights = ids.map { raw.constants[$0]!.values.map(Double.init) }
        let directions = weights.map { w in w.map { _ in Double(b.random()) } }
        let directionBuffers = directions.map { d -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: d.count); p.initialize(from: d.map(Float.init), count: d.count); return p
        }
        let products = weights.map { w -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: w.count); p.initialize(repeating: 0, count: w.count); return p
        }
        defer { (directionBuffers + products).forEach { $0.deallocate() } }
        engine.hessianVectorProducts(directions: directionBuffers.map { UnsafePointer($0) }, probes: 1, results: products)
        let step = 1e-4
        for (l, layer) in model.layers.enumerated() {
            var expected = [Double](repeating: 0, count: weights[l].count)
            for i in 0..<weights[l].count {
                func loss(_ along: Double, _ entry: Double) -> Double {
                    var overrides: [ValueID: [Double]] = [:]
                    for (m, id) in ids.enumerated() {
                        var w = zip(weights[m], directions[m]).map { $0 + along * step * $1 }
                        if m == l { w[i] += entry * step }
                        overrides[id] = w
                    }
                    return reference.loss(x, labels: labels, overrides: overrides)
                }
                expected[i] = (loss(1, 1) - loss(-1, 1) - loss(1, -1) + loss(-1, -1)) / (4 * step * step)
            }
            compare(Array(UnsafeBufferPointer(start: products[l], count: weights[l].count)), expected, "\(what): Hv of \(layer.name)")
        }
    }

    static func compare(_ float: [Float], _ reference: [Double], _ what: String) {
        #expect(float.count == reference.count, "\(what): size")
        let scale = max(reference.map(abs).max() ?? 0, 1e-8)
        let error = zip(float, reference).map { abs(Double($0) - $1) }.max() ?? 0
        #expect(error <= 1e-3 * scale, "\(what): max error \(error / scale) of the largest entry \(scale)")
        #expect(reference.contains { $0 != 0 }, "\(what): the reference gradient is all zeros (the test would prove nothing)")
    }

    /// A Gemm head from the [batch, n] value `from` to 3 logits.
    static func head(_ b: inout Builder, from: String, features: Int) {
        b.constant("wh", [3, features]); b.constant("bh", [3], scale: 0.1)
        b.node("Gemm", [from, "wh", "bh"], ["logits"], ["transB": .int(1)])
    }

    @Test func gemmAndElementwiseOps() throws {
        try Self.check("gemm", shape: [5]) { b in
            b.constant("w", [4, 5]); b.constant("bias", [4], scale: 0.1)
            b.node("Gemm", ["x", "w", "bias"], ["y"], ["transB": .int(1)])
            Self.head(&b, from: "y", features: 4)
        }
        for op in ["Relu", "Erf", "Tanh", "Sigmoid"] {
            try Self.check(op, shape: [6]) { b in
                b.constant("w", [6, 6])
                b.node("MatMul", ["x", "w"], ["m"])
                b.node(op, ["m"], ["y"])
                Self.head(&b, from: "y", features: 6)
            }
        }
        for op in ["Add", "Sub", "Mul", "Div"] {
            // With a broadcast constant, and between two run-time values.
            try Self.check(op + " constant", shape: [4]) { b in
                b.constant("c", [4], values: [1.5, 2, 2.5, 3])
                b.node(op, ["x", "c"], ["y"])
                Self.head(&b, from: "y", features: 4)
            }
            try Self.check(op + " run-time", shape: [4]) { b in
                b.constant("one", [], values: [1])
                b.node("Mul", ["x", "x"], ["sq"]); b.node("Add", ["sq", "one"], ["pos"])
                b.node(op, ["x", "pos"], ["y"])
                Self.head(&b, from: "y", features: 4)
            }
        }
    }

    @Test func normalisationAndAttentionOps() throws {
        try Self.check("Softmax", shape: [5]) { b in
            b.constant("s", [], values: [3])
            b.node("Mul", ["x", "s"], ["z"])
            b.node("Softmax", ["z"], ["y"], ["axis": .int(-1)])
            Self.head(&b, from: "y", features: 5)
        }
        try Self.check("LayerNormalization", shape: [6]) { b in
            b.constant("g", [6], values: [1, 0.8, 1.2, 0.9, 1.1, 0.7]); b.constant("be", [6], scale: 0.1)
            b.node("LayerNormalization", ["x", "g", "be"], ["y"], ["axis": .int(-1), "epsilon": .float(1e-5)])
            Self.head(&b, from: "y", features: 6)
        }
        // Batched MatMul of two run-time values and a Transpose: x xᵀ per sample.
        try Self.check("MatMul run-time + Transpose", shape: [3, 4]) { b in
            b.node("Transpose", ["x"], ["xt"], ["perm": .ints([0, 2, 1])])
            b.node("MatMul", ["x", "xt"], ["g"])
            b.node("Flatten", ["g"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 9)
        }
        try Self.check("MatMul weight + Reshape", shape: [3, 4]) { b in
            b.constant("w", [4, 2])
            b.ints("shape", [2, 6])
            b.node("MatMul", ["x", "w"], ["m"])
            b.node("Reshape", ["m", "shape"], ["y"])
            Self.head(&b, from: "y", features: 6)
        }
    }

    @Test func dataMovementOps() throws {
        try Self.check("Concat + Split", shape: [2, 4]) { b in
            b.constant("tok", [2, 1, 4], scale: 0.5)
            b.ints("split", [1, 3])
            b.node("Concat", ["tok", "x"], ["cat"], ["axis": .int(1)])
            b.node("Split", ["cat", "split"], ["sa", "sb"], ["axis": .int(2)])
            b.node("Concat", ["sb", "sa"], ["sw"], ["axis": .int(2)])
            b.node("Flatten", ["sw"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 12)
        }
        try Self.check("Slice + Gather", shape: [4, 3]) { b in
            b.ints("s0", [1]); b.ints("s1", [4]); b.ints("ax", [1])
            b.graph.constants[b.id("idx")] = Tensor(shape: [], integers: [1])
            b.node("Slice", ["x", "s0", "s1", "ax"], ["sl"])
            b.node("Gather", ["sl", "idx"], ["y"], ["axis": .int(1)])
            Self.head(&b, from: "y", features: 3)
        }
    }

    @Test func convolutionAndPoolingOps() throws {
        try Self.check("Conv", shape: [2, 5, 5]) { b in
            b.constant("w", [3, 2, 3, 3]); b.constant("cb", [3], scale: 0.1)
            b.node("Conv", ["x", "w", "cb"], ["c"], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
            b.node("Flatten", ["c"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 27)
        }
        try Self.check("MaxPool", shape: [2, 4, 4]) { b in
            b.node("MaxPool", ["x"], ["p"], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
            b.node("Flatten", ["p"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 8)
        }
        try Self.check("GlobalAveragePool", shape: [3, 3, 3]) { b in
            b.node("GlobalAveragePool", ["x"], ["g"])
            b.node("Flatten", ["g"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 3)
        }
    }

    /// Every other unary function with a backward (Float64 reference above), on a MatMul's output:
    /// functions defined for positive inputs get 1 + m² instead.
    @Test func unaryFunctions() throws {
        let attributes: [String: [String: Attribute]] = [
            "LeakyRelu": ["alpha": .float(0.1)], "Elu": ["alpha": .float(0.7)], "Selu": [:],
            "HardSigmoid": ["alpha": .float(0.3), "beta": .float(0.4)], "Gelu": ["approximate": .string("tanh")],
            "Celu": ["alpha": .float(0.6)], "Shrink": ["lambd": .float(0.4), "bias": .float(0.2)], "ThresholdedRelu": ["alpha": .float(0.3)],
        ]
        for op in ["Exp", "Neg", "Abs", "Sin", "Cos", "Softplus", "Softsign", "HardSwish", "LeakyRelu", "Elu", "Selu",
                   "HardSigmoid", "Gelu", "Clip", "Log", "Sqrt", "Reciprocal", "Mish", "Celu", "Shrink", "ThresholdedRelu"] {
            let positive = ["Log", "Sqrt", "Reciprocal"].contains(op)
            try Self.check(op, shape: [6]) { b in
                b.constant("w", [6, 6], scale: op == "HardSwish" ? 6 : 1.5)
                b.constant("one", [], values: [1])
                b.node("MatMul", ["x", "w"], ["m"])
                var source = "m"
                if positive {
                    b.node("Mul", ["m", "m"], ["sq"]); b.node("Add", ["sq", "one"], ["pos"])
                    source = "pos"
                }
                if op == "Clip" {
                    b.constant("low", [], values: [-0.3]); b.constant("high", [], values: [0.4])
                    b.node("Clip", [source, "low", "high"], ["y"])
                } else {
                    b.node(op, [source], ["y"], attributes[op] ?? [:])
                }
                Self.head(&b, from: "y", features: 6)
            }
        }
        // Piecewise-constant functions pass no gradient: the input gradient comes from the residual path alone.
        try Self.check("Floor", shape: [6]) { b in
            b.constant("w", [6, 6])
            b.node("MatMul", ["x", "w"], ["m"])
            b.node("Floor", ["m"], ["f"])
            b.node("Add", ["f", "m"], ["y"])
            Self.head(&b, from: "y", features: 6)
        }
        try Self.check("Pow constant exponent", shape: [6]) { b in
            b.constant("w", [6, 6])
            b.constant("three", [], values: [3])
            b.node("MatMul", ["x", "w"], ["m"])
            b.node("Pow", ["m", "three"], ["y"])
            Self.head(&b, from: "y", features: 6)
        }
    }

    @Test func poolingReductionAndNormalisation() throws {
        try Self.check("AveragePool padded, count_include_pad 0", shape: [2, 5, 5]) { b in
            b.node("AveragePool", ["x"], ["p"], ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1])])
            b.node("Flatten", ["p"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 18)
        }
        try Self.check("AveragePool count_include_pad 1, ceil mode", shape: [1, 6, 6]) { b in
            b.node("AveragePool", ["x"], ["p"], ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]), "pads": .ints([1, 1, 0, 0]),
                                                 "count_include_pad": .int(1), "ceil_mode": .int(1)])
            b.node("Flatten", ["p"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 9)
        }
        try Self.check("GlobalMaxPool", shape: [3, 3, 3]) { b in
            b.node("GlobalMaxPool", ["x"], ["g"])
            b.node("Flatten", ["g"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 3)
        }
        try Self.check("ReduceMean over H, W", shape: [3, 2, 4]) { b in
            b.node("ReduceMean", ["x"], ["r"], ["axes": .ints([2, 3]), "keepdims": .int(0)])
            Self.head(&b, from: "r", features: 3)
        }
        try Self.check("ReduceSum over C and W (not contiguous)", shape: [3, 2, 4]) { b in
            b.ints("axes", [1, 3])
            b.node("ReduceSum", ["x", "axes"], ["r"], ["keepdims": .int(0)])
            Self.head(&b, from: "r", features: 2)
        }
        // The other reductions over W (ReduceLogSum of positive values: exp first).
        for op in ["ReduceMax", "ReduceMin", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"] {
            try Self.check(op, shape: [3, 2, 4]) { b in
                var source = "x"
                if op == "ReduceLogSum" {
                    b.node("Exp", ["x"], ["ex"])
                    source = "ex"
                }
                b.node(op, [source], ["r"], ["axes": .ints([1, 3]), "keepdims": .int(0)])
                Self.head(&b, from: "r", features: 2)
            }
        }
        try Self.check("BatchNormalization after Gemm", shape: [5]) { b in
            b.constant("w", [4, 5])
            b.constant("g", [4], values: [1.2, 0.8, 1, 0.5]); b.constant("be", [4], scale: 0.1)
            b.constant("mu", [4], scale: 0.2); b.constant("var", [4], values: [0.5, 1, 2, 0.3])
            b.node("Gemm", ["x", "w"], ["m"], ["transB": .int(1)])
            b.node("BatchNormalization", ["m", "g", "be", "mu", "var"], ["y"], ["epsilon": .float(1e-5)])
            Self.head(&b, from: "y", features: 4)
        }
        // Standalone BatchNormalization on a Conv's output (rank 4, not folded: a residual reads the Conv).
        try Self.check("BatchNormalization rank 4 after Conv", shape: [2, 3, 3]) { b in
            b.constant("w", [3, 2, 3, 3]); b.constant("wr", [3, 2, 1, 1])
            b.constant("g", [3], values: [1.2, 0.8, 0.5]); b.constant("be", [3], scale: 0.1)
            b.constant("mu", [3], scale: 0.2); b.constant("var", [3], values: [0.5, 2, 0.3])
            b.node("Conv", ["x", "w"], ["c"], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])])
            b.node("Conv", ["x", "wr"], ["r"], ["kernel_shape": .ints([1, 1])])
            b.node("Add", ["c", "r"], ["s"])
            b.node("BatchNormalization", ["s", "g", "be", "mu", "var"], ["y"], ["epsilon": .float(1e-5)])
            b.node("Flatten", ["y"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 27)
        }
        try Self.check("InstanceNormalization", shape: [3, 4]) { b in
            b.constant("w", [4, 4], scale: 1)
            b.constant("g", [3], values: [1.2, 0.8, 0.5]); b.constant("be", [3], scale: 0.2)
            b.node("MatMul", ["x", "w"], ["m"])
            b.node("InstanceNormalization", ["m", "g", "be"], ["y"], ["epsilon": .float(1e-3)])
            b.node("Flatten", ["y"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 12)
        }
        for opset in [18, 21] {
            try Self.check("GroupNormalization opset \(opset)", shape: [4, 3]) { b in
                b.graph.opset = opset
                b.constant("w", [3, 3], scale: 1)
                let parameters = opset >= 21 ? 4 : 2
                b.constant("g", [parameters], values: Array([1.2, 0.8, 0.5, 1.1].prefix(parameters))); b.constant("be", [parameters], scale: 0.2)
                b.node("MatMul", ["x", "w"], ["m"])
                b.node("GroupNormalization", ["m", "g", "be"], ["y"], ["num_groups": .int(2), "epsilon": .float(1e-3)])
                b.node("Flatten", ["y"], ["f"], ["axis": .int(1)])
                Self.head(&b, from: "f", features: 12)
            }
        }
        for (p, axis) in [(2, -1), (1, 1)] {
            try Self.check("LpNormalization p=\(p) axis \(axis)", shape: [3, 4]) { b in
                b.constant("w", [4, 4], scale: 1)
                b.node("MatMul", ["x", "w"], ["m"])
                b.node("LpNormalization", ["m"], ["y"], ["p": .int(p), "axis": .int(axis)])
                b.node("Flatten", ["y"], ["f"], ["axis": .int(1)])
                Self.head(&b, from: "f", features: 12)
            }
        }
        try Self.check("LogSoftmax", shape: [5]) { b in
            b.constant("w", [5, 5])
            b.node("MatMul", ["x", "w"], ["m"])
            b.node("LogSoftmax", ["m"], ["y"], ["axis": .int(-1)])
            Self.head(&b, from: "y", features: 5)
        }
        try Self.check("PRelu per channel", shape: [3, 2, 2]) { b in
            b.constant("slope", [3, 1, 1], values: [0.1, 0.25, -0.5])
            b.node("PRelu", ["x", "slope"], ["y"])
            b.node("Flatten", ["y"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 12)
        }
        for mode in ["constant", "reflect"] {
            try Self.check("Pad \(mode)", shape: [2, 3, 3]) { b in
                b.ints("pads", [0, 0, 1, 2, 0, 0, 2, 1])
                b.node("Pad", ["x", "pads"], ["y"], ["mode": .string(mode)])
                b.node("Flatten", ["y"], ["f"], ["axis": .int(1)])
                Self.head(&b, from: "f", features: 72)
            }
        }
        try Self.check("Sum, Mean, Max, Min with broadcasting", shape: [2, 3]) { b in
            b.constant("w", [3, 3]); b.constant("c", [3], values: [0.1, -0.2, 0.05]); b.constant("z", [], values: [0])
            b.node("MatMul", ["x", "w"], ["m"])
            b.node("Mul", ["m", "m"], ["sq"])
            b.node("Sum", ["m", "c", "sq"], ["s"])
            b.node("Max", ["s", "z"], ["mx"])
            b.node("Min", ["mx", "m"], ["mn"])
            b.node("Mean", ["mn", "sq"], ["y"])
            b.node("Flatten", ["y"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 6)
        }
        // A hand-written leaky ReLU: Where(m > 0, m, 0.1·m).
        try Self.check("Where + Greater", shape: [5]) { b in
            b.constant("w", [5, 5]); b.constant("z", [], values: [0]); b.constant("tenth", [], values: [0.1])
            b.node("MatMul", ["x", "w"], ["m"])
            b.node("Greater", ["m", "z"], ["pos"])
            b.node("Mul", ["m", "tenth"], ["small"])
            b.node("Where", ["pos", "m", "small"], ["y"])
            Self.head(&b, from: "y", features: 5)
        }
        try Self.check("Tile + Dropout", shape: [2, 3]) { b in
            b.ints("repeats", [1, 2, 1])
            b.node("Tile", ["x", "repeats"], ["t"])
            b.node("Dropout", ["t"], ["d"])
            b.node("Flatten", ["d"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 12)
        }
    }

    /// The normalisations and activations of OpGradientTests' Hv test, here with float64 references
    /// for the gradient and Hv (Shrink included: its kinks are out of reach of steps of 1e-5 and 1e-4).
    @Test(arguments: OpGradientTests.normalisationsAndActivations)
    func normalisationAndActivationHessians(_ op: String) throws {
        try Self.check("\(op) after a residual Conv", shape: [2, 3, 3], hessian: true) { b in
            OpGradientTests.normalisationOrActivationGraph(op, &b)
        }
    }

    @Test func groupedConvolutions() throws {
        try Self.check("depthwise Conv stride 2", shape: [3, 5, 5]) { b in
            b.constant("w", [3, 1, 3, 3]); b.constant("cb", [3], scale: 0.1)
            b.node("Conv", ["x", "w", "cb"], ["c"], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2]),
                                                      "group": .int(3)])
            b.node("Flatten", ["c"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 27)
        }
        // Two groups of 2 -> 3 channels with a fused ReLU and residual (Relu(Conv(x) + x)).
        try Self.check("grouped Conv + residual + ReLU", shape: [4, 4, 4]) { b in
            b.constant("w", [4, 2, 3, 3])
            b.node("Conv", ["x", "w"], ["c"], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "group": .int(2)])
            b.node("Add", ["c", "x"], ["a"])
            b.node("Relu", ["a"], ["r"])
            b.node("Flatten", ["r"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 64)
        }
    }

    @Test func upsamplingOps() throws {
        // Two groups of 2 -> 3 channels, stride 2, asymmetric pads, output_padding, bias: 3x3 -> 7x7.
        try Self.check("ConvTranspose", shape: [4, 3, 3]) { b in
            b.constant("w", [4, 3, 3, 3]); b.constant("cb", [6], scale: 0.1)
            b.node("ConvTranspose", ["x", "w", "cb"], ["c"], ["strides": .ints([2, 2]), "pads": .ints([1, 0, 0, 1]),
                                                               "output_padding": .ints([1, 1]), "group": .int(2)])
            b.node("Flatten", ["c"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 294)
        }
        try Self.check("ConvTranspose 1-D dilated", shape: [2, 4]) { b in
            b.constant("w", [2, 2, 3])
            b.node("ConvTranspose", ["x", "w"], ["c"], ["strides": .ints([2]), "dilations": .ints([2]), "pads": .ints([1, 2])])
            b.node("Flatten", ["c"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 16)
        }
        // Bilinear (half_pixel) up by 1.5 x 2, then nearest (asymmetric, floor) down to 3 x 5.
        try Self.check("Resize linear + nearest", shape: [2, 3, 4]) { b in
            b.constant("sc", [4], values: [1, 1, 1.5, 2])
            b.ints("sz", [2, 2, 3, 5])
            b.node("Resize", ["x", "", "sc"], ["r1"], ["mode": .string("linear")])
            b.node("Resize", ["r1", "", "", "sz"], ["r2"], ["mode": .string("nearest"), "nearest_mode": .string("floor"),
                                                             "coordinate_transformation_mode": .string("asymmetric")])
            b.node("Flatten", ["r2"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 30)
        }
        try Self.check("Resize cubic align_corners", shape: [1, 4, 4]) { b in
            b.constant("sc", [4], values: [1, 1, 1.5, 1.25])
            b.node("Resize", ["x", "", "sc"], ["r"], ["mode": .string("cubic"), "coordinate_transformation_mode": .string("align_corners")])
            b.node("Flatten", ["r"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 30)
        }
        // Part of the crop lies outside the input: those outputs are the constant 7 (no gradient).
        try Self.check("Resize tf_crop_and_resize", shape: [1, 4, 5]) { b in
            b.constant("roi", [8], values: [0, 0, 0.1, -0.2, 1, 1, 0.9, 1.3])
            b.ints("sz", [2, 1, 3, 4])
            b.node("Resize", ["x", "roi", "", "sz"], ["r"], ["mode": .string("linear"), "extrapolation_value": .float(7),
                                                             "coordinate_transformation_mode": .string("tf_crop_and_resize")])
            b.node("Flatten", ["r"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 12)
        }
        try Self.check("DepthToSpace CRD + SpaceToDepth", shape: [8, 2, 3]) { b in
            b.node("DepthToSpace", ["x"], ["d"], ["blocksize": .int(2), "mode": .string("CRD")])
            b.node("SpaceToDepth", ["d"], ["s"], ["blocksize": .int(2)])
            b.node("Flatten", ["s"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 48)
        }
        try Self.check("DepthToSpace DCR", shape: [8, 1, 2]) { b in
            b.node("DepthToSpace", ["x"], ["d"], ["blocksize": .int(2)])
            b.node("Flatten", ["d"], ["f"], ["axis": .int(1)])
            Self.head(&b, from: "f", features: 16)
        }
    }
}
