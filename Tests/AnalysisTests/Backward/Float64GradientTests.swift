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
                switch node.opType {
                case "Relu": outs = [DTensor(shape: x.shape, values: x.values.map { max($0, 0) })]
                case "Erf": outs = [DTensor(shape: x.shape, values: x.values.map { Foundation.erf($0) })]
                case "Tanh": outs = [DTensor(shape: x.shape, values: x.values.map { Foundation.tanh($0) })]
                case "Sigmoid": outs = [DTensor(shape: x.shape, values: x.values.map { 1 / (1 + Foundation.exp(-$0)) })]
                case "Add": outs = [broadcast(x, get(node.inputs[1]), +)]
                case "Sub": outs = [broadcast(x, get(node.inputs[1]), -)]
                case "Mul": outs = [broadcast(x, get(node.inputs[1]), *)]
                case "Div": outs = [broadcast(x, get(node.inputs[1]), /)]
                case "MatMul": outs = [matmul(x, get(node.inputs[1]))]
                case "Gemm":
                    var w = get(node.inputs[1])
                    if int("transB", 0) == 1 { w = transpose(w, [1, 0]) }
                    var y = matmul(x, w)
                    if node.inputs.count > 2 { y = broadcast(y, get(node.inputs[2]), +) }
                    outs = [y]
                case "Softmax":
                    let n = x.shape.last!
                    var v = x.values
                    for r in 0..<(x.count / n) {
                        let row = v[(r * n)..<(r * n + n)]
                        let m = row.max()!
                        let e = row.map { Foundation.exp($0 - m) }
                        let s = e.reduce(0, +)
                        for j in 0..<n { v[r * n + j] = e[j] / s }
                    }
                    outs = [DTensor(shape: x.shape, values: v)]
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
                case "Conv":
                    let w = get(node.inputs[1])
                    let (nb, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
                    let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
                    var pads = [0, 0, 0, 0], strides = [1, 1]
                    if case .ints(let p)? = a["pads"] { pads = p }
                    if case .ints(let s)? = a["strides"] { strides = s }
                    let oh = (h + pads[0] + pads[2] - kh) / strides[0] + 1, ow = (wd + pads[1] + pads[3] - kw) / strides[1] + 1
                    let bias = node.inputs.count > 2 ? get(node.inputs[2]).values : Array(repeating: 0, count: o)
                    var v = [Double](repeating: 0, count: nb * o * oh * ow)
                    for n in 0..<nb { for f in 0..<o { for i in 0..<oh { for j in 0..<ow {
                        var s = bias[f]
                        for ch in 0..<c { for u in 0..<kh { for t in 0..<kw {
                            let (y, xx) = (i * strides[0] + u - pads[0], j * strides[1] + t - pads[1])
                            if y >= 0 && y < h && xx >= 0 && xx < wd {
                                s += x.values[((n * c + ch) * h + y) * wd + xx] * w.values[((f * c + ch) * kh + u) * kw + t]
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
                    let ax = axis(x.shape.count)
                    let index = ints(node.inputs[1])[0]
                    var ranges = x.shape.map { 0..<$0 }
                    ranges[ax] = index..<(index + 1)
                    var y = block(x, ranges)
                    y.shape.remove(at: ax)
                    outs = [y]
                default:
                    fatalError("the float64 reference has no \(node.opType)")
                }
                for (id, value) in zip(node.outputs, outs) { env[id] = value }
            }
            return env[graph.outputIDs[0]]!
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
    static func check(_ what: String, shape: [Int], batch: Int = 2, _ body: (inout Builder) -> Void) throws {
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
}
