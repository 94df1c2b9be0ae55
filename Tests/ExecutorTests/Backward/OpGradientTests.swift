import Executor
import Foundation
import Testing
import Analysis
import Kernels

/// Each op's backward and Hessian-vector product against central finite differences, on small
/// graphs built here (after qscope's own simplification: fused ReLU, max pool, residual, bias, GELU).
///
/// The loss is evaluated by the float32 executor and accumulated in double; steps are large enough
/// (1e-2 of the entries' scale) that float32 rounding stays well below the tolerance.
@Suite("reverse mode vs finite differences")
struct OpGradientTests {
    /// A graph under construction: values by name.
    struct Builder {
        var graph = Graph(opset: 17)
        var ids: [String: ValueID] = [:]
        var seed: UInt64 = 1

        mutating func id(_ name: String) -> ValueID {
            if let id = ids[name] { return id }
            let id = graph.addValue(named: name)
            ids[name] = id
            return id
        }

        mutating func random() -> Float {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Double(seed >> 11) / Double(1 << 53)) * 2 - 1
        }

        mutating func constant(_ name: String, _ shape: [Int], scale: Float = 0.5, values: [Float]? = nil) {
            let count = shape.reduce(1, *)
            let v = values ?? (0..<count).map { _ in random() * scale }
            graph.constants[id(name)] = Tensor(shape: shape, values: v)
        }

        mutating func ints(_ name: String, _ values: [Int]) {
            graph.constants[id(name)] = Tensor(shape: [values.count], integers: values.map(Int64.init))
        }

        mutating func node(_ op: String, _ inputs: [String], _ outputs: [String], _ attributes: [String: Attribute] = [:]) {
            let node = Node(name: "\(op)_\(outputs[0])", opType: op, inputs: inputs.map { $0.isEmpty ? nil : id($0) },
                            outputs: outputs.map { id($0) }, attributes: attributes)
            graph.nodes.append(node)
        }

        mutating func finish(input shape: [Int], output: String, classes: Int) throws -> Model {
            let x = id("x")
            graph.inputs = [ValueSpec(name: "x", dataType: .float32, dims: [nil] + shape.map { $0 })]
            graph.inputIDs = [x]
            graph.outputs = [ValueSpec(name: output, dataType: .float32, dims: [nil, classes])]
            graph.outputIDs = [id(output)]
            return try Model(path: "test", raw: graph)
        }
    }

    /// Conv stem (fused ReLU and 2x2 max pool), a residual Conv (fused Add + ReLU), global pooling, Gemm.
    static func convModel() throws -> Model {
        var b = Builder()
        b.constant("w1", [4, 2, 3, 3]); b.constant("b1", [4], scale: 0.1)
        b.constant("w2", [4, 4, 3, 3]); b.constant("b2", [4], scale: 0.1)
        b.constant("w3", [4, 4, 1, 1])
        b.constant("wh", [3, 4]); b.constant("bh", [3], scale: 0.1)
        let conv: [String: Attribute] = ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])]
        b.node("Conv", ["x", "w1", "b1"], ["c1"], conv)
        b.node("Relu", ["c1"], ["r1"])
        b.node("MaxPool", ["r1"], ["p1"], ["kernel_shape": .ints([2, 2]), "strides": .ints([2, 2])])
        b.node("Conv", ["p1", "w2", "b2"], ["c2"], conv)
        b.node("Add", ["c2", "p1"], ["a2"])
        b.node("Relu", ["a2"], ["r2"])
        b.node("Conv", ["r2", "w3"], ["c3"], ["kernel_shape": .ints([1, 1]), "strides": .ints([2, 2])])
        b.node("Sub", ["c3", "b2s"], ["s3"])
        b.constant("b2s", [1, 4, 1, 1], scale: 0.2)
        b.node("GlobalAveragePool", ["s3"], ["g"])
        b.node("Flatten", ["g"], ["f"], ["axis": .int(1)])
        b.node("Gemm", ["f", "wh", "bh"], ["logits"], ["transB": .int(1)])
        return try b.finish(input: [2, 8, 8], output: "logits", classes: 3)
    }

    /// LayerNorm, attention (batched MatMuls, Transpose, Div, Softmax), exact GELU subgraph, Mul and
    /// Div of run-time values, Concat with a constant, Split, Slice, Gather, Reshape, MatMul + bias.
    static func attentionModel() throws -> Model {
        var b = Builder()
        b.constant("g", [4], values: [1, 0.8, 1.2, 0.9]); b.constant("be", [4], scale: 0.1)
        b.constant("wq", [4, 4]); b.constant("wk", [4, 4]); b.constant("wv", [4, 4]); b.constant("bq", [4], scale: 0.1)
        b.constant("two", [], values: [2]); b.constant("one", [], values: [1]); b.constant("half", [], values: [0.5])
        b.constant("sqrt2", [], values: [1.414_213_5])
        b.constant("tok", [2, 1, 4], scale: 0.5)
        b.constant("wh", [4, 3]); b.constant("bh", [3], scale: 0.1)
        b.ints("shape4", [2, 3, 2, 2]); b.ints("shape3", [2, 3, 4])
        b.ints("s0", [0]); b.ints("s1", [3]); b.ints("ax1", [1]); b.ints("split", [2, 2])
        b.graph.constants[b.id("idx")] = Tensor(shape: [], integers: [2])
        b.node("LayerNormalization", ["x", "g", "be"], ["ln"], ["axis": .int(-1), "epsilon": .float(1e-5)])
        b.node("MatMul", ["ln", "wq"], ["q0"]); b.node("Add", ["q0", "bq"], ["q"])
        b.node("MatMul", ["ln", "wk"], ["k"]); b.node("MatMul", ["ln", "wv"], ["v"])
        b.node("Reshape", ["q", "shape4"], ["q4"]); b.node("Transpose", ["q4"], ["qh"], ["perm": .ints([0, 2, 1, 3])])
        b.node("Reshape", ["k", "shape4"], ["k4"]); b.node("Transpose", ["k4"], ["kt"], ["perm": .ints([0, 2, 3, 1])])
        b.node("Reshape", ["v", "shape4"], ["v4"]); b.node("Transpose", ["v4"], ["vh"], ["perm": .ints([0, 2, 1, 3])])
        b.node("MatMul", ["qh", "kt"], ["sc"]); b.node("Div", ["sc", "two"], ["sd"])
        b.node("Softmax", ["sd"], ["att"], ["axis": .int(-1)])
        b.node("MatMul", ["att", "vh"], ["ctx"]); b.node("Transpose", ["ctx"], ["ct"], ["perm": .ints([0, 2, 1, 3])])
        b.node("Reshape", ["ct", "shape3"], ["h"])
        // Exact GELU as exporters write it.
        b.node("Div", ["h", "sqrt2"], ["gd"]); b.node("Erf", ["gd"], ["ge"]); b.node("Add", ["ge", "one"], ["ga"])
        b.node("Mul", ["h", "ga"], ["gm"]); b.node("Mul", ["gm", "half"], ["gelu"])
        // Run-time Mul and Div: y / (1 + y·y).
        b.node("Mul", ["gelu", "gelu"], ["sq"]); b.node("Add", ["sq", "one"], ["den"]); b.node("Div", ["gelu", "den"], ["rat"])
        b.node("Add", ["rat", "h"], ["res"])
        b.node("Concat", ["tok", "res"], ["cat"], ["axis": .int(1)])
        b.node("Split", ["cat", "split"], ["sa", "sb"], ["axis": .int(2)])
        b.node("Concat", ["sb", "sa"], ["sw"], ["axis": .int(2)])
        b.node("Slice", ["sw", "s0", "s1", "ax1"], ["sl"])
        b.node("Gather", ["sl", "idx"], ["cls"], ["axis": .int(1)])
        b.node("Gemm", ["cls", "wh", "bh"], ["logits"])
        return try b.finish(input: [3, 4], output: "logits", classes: 3)
    }

    /// The ops the sample models do not use, for their tangent rules (Hv): a grouped Conv, HardSwish,
    /// AveragePool counting the padding, a depthwise Conv with fused residual and ReLU, Pow, Tile,
    /// PRelu, a reflecting Pad, GlobalMaxPool, non-contiguous ReduceSum, ReduceL2, ReduceLogSumExp and ReduceSumSquare, Gemm + unfolded BatchNormalization, GELU (tanh),
    /// Selu, Softplus, Max, Where, Mean, Dropout, LogSoftmax at the output.
    static func coverageModel() throws -> Model {
        var b = Builder()
        b.constant("w1", [4, 1, 3, 3], scale: 1.5); b.constant("w2", [4, 1, 3, 3])
        b.constant("w3", [4, 7]); b.constant("wh", [3, 4]); b.constant("bh", [3], scale: 0.1)
        b.constant("two", [], values: [2])
        b.constant("g", [4], values: [1.2, 0.8, 1, 0.5]); b.constant("be", [4], scale: 0.1)
        b.constant("mu", [4], scale: 0.2); b.constant("var", [4], values: [0.5, 1, 2, 0.3])
        b.ints("repeats", [1, 1, 2, 1]); b.ints("axes", [1, 3])
        let pad: [String: Attribute] = ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])]
        b.node("Conv", ["x", "w1"], ["c1"], pad.merging(["group": .int(2)]) { $1 })
        b.node("HardSwish", ["c1"], ["h0"])
        b.constant("slope", [4, 1, 1], values: [0.1, 0.3, -0.2, 0.5]); b.ints("pads", [0, 0, 1, 0, 0, 0, 0, 1])
        b.node("PRelu", ["h0", "slope"], ["h1"])
        b.node("Pad", ["h1", "pads"], ["h2"], ["mode": .string("reflect")])
        b.ints("starts", [0, 0]); b.ints("ends", [6, 6]); b.ints("sliceAxes", [2, 3])
        b.node("Slice", ["h2", "starts", "ends", "sliceAxes"], ["h"])
        b.node("AveragePool", ["h"], ["p"], pad.merging(["strides": .ints([2, 2]), "count_include_pad": .int(1)]) { $1 })
        b.node("Conv", ["p", "w2"], ["c2"], pad.merging(["group": .int(4)]) { $1 })
        b.node("Add", ["c2", "p"], ["a"])
        b.node("Relu", ["a"], ["r"])
        b.node("Pow", ["r", "two"], ["q"])
        b.node("Tile", ["q", "repeats"], ["t"])
        b.node("GlobalMaxPool", ["t"], ["gm"])
        b.node("Flatten", ["gm"], ["g1"], ["axis": .int(1)])
        b.node("ReduceSum", ["r", "axes"], ["g2a"], ["keepdims": .int(0)])
        b.node("ReduceL2", ["c2"], ["g2b"], ["axes": .ints([1, 3]), "keepdims": .int(0)])
        b.node("ReduceLogSumExp", ["c2"], ["g2c"], ["axes": .ints([1, 3]), "keepdims": .int(0)])
        b.node("ReduceSumSquare", ["c2"], ["g2d"], ["axes": .ints([1, 3]), "keepdims": .int(0)])
        b.node("Add", ["g2a", "g2b"], ["g2e"])
        b.node("Add", ["g2c", "g2d"], ["g2f"])
        b.node("Add", ["g2e", "g2f"], ["g2"])
        b.node("Concat", ["g1", "g2"], ["cat"], ["axis": .int(1)])
        b.node("Gemm", ["cat", "w3"], ["m"], ["transB": .int(1)])
        b.node("BatchNormalization", ["m", "g", "be", "mu", "var"], ["bn"], ["epsilon": .float(1e-5)])
        b.node("Gelu", ["bn"], ["ge"], ["approximate": .string("tanh")])
        b.node("Selu", ["ge"], ["se"])
        b.node("Softplus", ["se"], ["sp0"])
        b.constant("floor", [4], values: [0.2, 0.1, 0.3, 0.25]); b.constant("zero", [], values: [0])
        b.node("Max", ["sp0", "floor"], ["sp1"])
        b.node("Greater", ["m", "zero"], ["pos"])
        b.node("Where", ["pos", "sp1", "sp0"], ["sp2"])
        b.node("Mean", ["sp2", "sp0", "se"], ["sp"])
        b.node("Dropout", ["sp"], ["d"])
        b.node("Gemm", ["d", "wh", "bh"], ["z"], ["transB": .int(1)])
        b.node("LogSoftmax", ["z"], ["logits"], ["axis": .int(-1)])
        return try b.finish(input: [2, 6, 6], output: "logits", classes: 3)
    }

    /// An encoder-decoder in the shape of a segmentation / text-detection head: a strided Conv + ReLU,
    /// a grouped ConvTranspose back up (two quantizable layers in a row, so each one's weight
    /// tangent reaches the other's second-order terms), a bilinear Resize, SpaceToDepth, global
    /// pooling and a Gemm head.
    static func upsamplingModel() throws -> Model {
        var b = Builder()
        b.constant("w1", [4, 2, 3, 3], scale: 0.8); b.constant("b1", [4], scale: 0.1)
        b.constant("w2", [4, 1, 3, 3], scale: 0.8); b.constant("b2", [2], scale: 0.1)
        b.constant("sc", [4], values: [1, 1, 1.5, 1.5])
        b.constant("wh", [3, 8]); b.constant("bh", [3], scale: 0.1)
        b.node("Conv", ["x", "w1", "b1"], ["c1"], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1]), "strides": .ints([2, 2])])
        b.node("Tanh", ["c1"], ["a1"])
        b.node("ConvTranspose", ["a1", "w2", "b2"], ["d1"], ["strides": .ints([2, 2]), "pads": .ints([1, 1, 0, 0]), "group": .int(2)])
        b.node("Tanh", ["d1"], ["a2"])
        b.node("Resize", ["a2", "", "sc"], ["r"], ["mode": .string("linear")])
        b.node("Mul", ["r", "r"], ["q"])
        b.node("SpaceToDepth", ["q"], ["s"], ["blocksize": .int(2)])
        b.node("GlobalAveragePool", ["s"], ["g"])
        b.node("Flatten", ["g"], ["f"], ["axis": .int(1)])
        b.node("Gemm", ["f", "wh", "bh"], ["logits"], ["transB": .int(1)])
        return try b.finish(input: [2, 4, 4], output: "logits", classes: 3)
    }

    /// Checks gradients (weights and input) and one Hessian-vector product against central differences.
    static func check(_ model: Model, batch: Int, sampleShape: [Int], labels: [Int], tolerance: Double = 2e-2) throws {
        var b = Builder()
        b.seed = 99
        let input = (0..<(batch * sampleShape.reduce(1, *))).map { _ in b.random() }
        let engine = try ReverseMode(model: model, batch: batch, sampleShape: sampleShape)
        var buffers: [UnsafeMutablePointer<Float>] = []
        func loss() throws -> Double {
            // Re-substituting drops packed copies of the (edited in place) weight buffers.
            for (l, layer) in model.layers.enumerated() where l < buffers.count { engine.compiled.substitute(layer.weight, with: buffers[l]) }
            return try input.withUnsafeBufferPointer { try engine.prepare(input: $0.baseAddress!, target: .labels(labels), scale: 1 / Float(batch)) }
        }
        _ = try loss()
        let weights = model.layers.map { Array(model.graph.constants[$0.weight]!.values) }
        let gradients = model.layers.map { Array(engine.gradient($0.weight)!) }
        let inputGradient = Array(engine.gradient(model.graph.inputIDs[0])!)
        // The first layer reads the graph input: its activation gradient is the same buffer.
        if model.graph.nodes[model.layers[0].nodeIndex].inputs[0] == model.graph.inputIDs[0] {
            #expect(Array(engine.inputGradient(of: model.layers[0])!) == inputGradient)
        }
        // Hv for one random direction over all layers.
        let directions = weights.map { w in w.map { _ in b.random() } }
        let dirPointers = directions.map { d -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: d.count); p.initialize(from: d, count: d.count); return p
        }
        let hvPointers = directions.map { d -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: d.count); p.initialize(repeating: 0, count: d.count); return p
        }
        defer { (dirPointers + hvPointers).forEach { $0.deallocate() } }
        engine.hessianVectorProducts(directions: dirPointers.map { UnsafePointer($0) }, probes: 1, results: hvPointers)
        let hv = zip(hvPointers, directions).map { Array(UnsafeBufferPointer(start: $0, count: $1.count)) }

        // Weight gradients: a few entries of each layer.
        buffers = weights.map { w -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: w.count); p.initialize(from: w, count: w.count); return p
        }
        defer { buffers.forEach { $0.deallocate() } }
        for (l, layer) in model.layers.enumerated() {
            let scale = max(gradients[l].map(abs).max()!, 1e-6)
            for i in stride(from: 0, to: weights[l].count, by: max(1, weights[l].count / 5)) {
                let h: Float = 1e-2
                buffers[l][i] = weights[l][i] + h
                let up = try loss()
                buffers[l][i] = weights[l][i] - h
                let down = try loss()
                buffers[l][i] = weights[l][i]
                let fd = (up - down) / (2 * Double(h))
                #expect(abs(fd - Double(gradients[l][i])) <= tolerance * Double(scale),
                        "\(layer.name)[\(i)]: backward \(gradients[l][i]) vs finite difference \(fd)")
            }
        }
        // Hv: central difference of the gradients along the direction. The gradient jumps where a
        // ReLU or a max pool's argmax switches, so the step is small (1e-3 of the entries' scale).
        let h: Float = 1e-3
        func gradientsAt(_ sign: Float) throws -> [[Float]] {
            for l in model.layers.indices { for i in 0..<weights[l].count { buffers[l][i] = weights[l][i] + sign * h * directions[l][i] } }
            _ = try loss()
            return model.layers.map { Array(engine.gradient($0.weight)!) }
        }
        let gUp = try gradientsAt(1), gDown = try gradientsAt(-1)
        for l in model.layers.indices { for i in 0..<weights[l].count { buffers[l][i] = weights[l][i] } }
        for (l, layer) in model.layers.enumerated() {
            let fd = zip(gUp[l], gDown[l]).map { Double($0 - $1) / (2 * Double(h)) }
            let scale = max(fd.map(abs).max()!, 1e-6)
            let error = zip(fd, hv[l]).map { abs($0 - Double($1)) }.max()!
            #expect(error <= tolerance * scale, "\(layer.name): Hv differs from finite differences by \(error / scale) relative")
        }
        // Activation gradient at the input.
        _ = try loss()
        var perturbed = input
        let scale = max(inputGradient.map(abs).max()!, 1e-6)
        for i in stride(from: 0, to: input.count, by: max(1, input.count / 7)) {
            let h: Float = 1e-2
            perturbed[i] = input[i] + h
            let up = try perturbed.withUnsafeBufferPointer { try engine.prepare(input: $0.baseAddress!, target: .labels(labels), scale: 1 / Float(batch)) }
            perturbed[i] = input[i] - h
            let down = try perturbed.withUnsafeBufferPointer { try engine.prepare(input: $0.baseAddress!, target: .labels(labels), scale: 1 / Float(batch)) }
            perturbed[i] = input[i]
            let fd = (up - down) / (2 * Double(h))
            #expect(abs(fd - Double(inputGradient[i])) <= tolerance * Double(scale), "input[\(i)]: \(inputGradient[i]) vs \(fd)")
        }
    }

    @Test func convolutionFamily() throws {
        let model = try Self.convModel()
        let ops = Set(model.graph.nodes.map(\.opType))
        #expect(ops.contains("MaxPool"), "the stem's pool must be there: \(ops)")
        #expect(model.graph.nodes.contains { $0.opType == "Conv" && $0.inputs.count == 4 }, "the residual must be fused")
        try Self.check(model, batch: 2, sampleShape: [2, 8, 8], labels: [0, 2])
    }

    @Test func upsamplingFamily() throws {
        let model = try Self.upsamplingModel()
        #expect(model.layers.map(\.opType) == ["Conv", "ConvTranspose", "Gemm"], "\(model.layers.map(\.opType))")
        #expect(model.layers[1].outputAxis == 1)
        try Self.check(model, batch: 2, sampleShape: [2, 4, 4], labels: [0, 2])
    }

    /// Several probes at once give each probe's own Hv (the ConvTranspose and Resize rules lay the
    /// probes' tangents out as more images), and the quadratic forms equal vᵀ(Hv) per layer.
    @Test func upsamplingProbesAreIndependent() throws {
        let model = try Self.upsamplingModel()
        let engine = try ReverseMode(model: model, batch: 2, sampleShape: [2, 4, 4])
        var b = Builder()
        b.seed = 5
        let input = (0..<64).map { _ in b.random() }
        _ = try input.withUnsafeBufferPointer { try engine.prepare(input: $0.baseAddress!, target: .labels([1, 2]), scale: 0.5) }
        let sizes = model.layers.map(\.parameterCount)
        let probes = 3
        let directions = sizes.map { n in (0..<(probes * n)).map { _ in b.random() } }
        func products(_ probe: Int?) -> [[Float]] {
            let count = probe == nil ? probes : 1
            let chosen = zip(directions, sizes).map { d, n in probe.map { Array(d[($0 * n)..<(($0 + 1) * n)]) } ?? d }
            var results = sizes.map { [Float](repeating: 0, count: count * $0) }
            let pointers = chosen.map { d -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: d.count); p.initialize(from: d, count: d.count); return p
            }
            let outputs = results.map { r -> UnsafeMutablePointer<Float> in
                let p = UnsafeMutablePointer<Float>.allocate(capacity: r.count); p.initialize(repeating: 0, count: r.count); return p
            }
            defer { (pointers + outputs).forEach { $0.deallocate() } }
            engine.hessianVectorProducts(directions: pointers.map { UnsafePointer($0) }, probes: count, results: outputs)
            for l in results.indices { results[l] = Array(UnsafeBufferPointer(start: outputs[l], count: results[l].count)) }
            return results
        }
        let together = products(nil)
        for p in 0..<probes {
            let alone = products(p)
            for l in sizes.indices {
                let joint = Array(together[l][(p * sizes[l])..<((p + 1) * sizes[l])])
                let scale = max(alone[l].map(abs).max()!, 1e-6)
                let error = zip(joint, alone[l]).map { abs($0 - $1) }.max()!
                #expect(error <= 1e-4 * scale, "probe \(p) layer \(model.layers[l].name): \(error / scale)")
            }
        }
        let forms = directions.map { d -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: d.count); p.initialize(from: d, count: d.count); return p
        }
        defer { forms.forEach { $0.deallocate() } }
        let quadratic = engine.hessianQuadraticForms(directions: forms.map { UnsafePointer($0) }, probes: probes)
        for l in sizes.indices {
            for p in 0..<probes {
                let n = sizes[l]
                let expected = (0..<n).reduce(0.0) { $0 + Double(directions[l][p * n + $1]) * Double(together[l][p * n + $1]) }
                #expect(abs(quadratic[l][p] - expected) <= 1e-4 * max(1e-6, abs(expected)) + 1e-7,
                        "layer \(model.layers[l].name) probe \(p): form \(quadratic[l][p]) vs vᵀHv \(expected)")
            }
        }
    }

    @Test func attentionFamily() throws {
        let model = try Self.attentionModel()
        #expect(model.graph.nodes.contains { $0.opType == "Gelu" }, "the GELU subgraph must be fused")
        try Self.check(model, batch: 2, sampleShape: [3, 4], labels: [1, 2])
    }

    @Test func opsBeyondTheSampleModels() throws {
        let model = try Self.coverageModel()
        #expect(model.layers.count == 4, "\(model.layers.map(\.name))")
        let ops = Set(model.graph.nodes.map(\.opType))
        for op in ["BatchNormalization", "GlobalMaxPool", "AveragePool", "ReduceSum", "Pow", "Tile", "LogSoftmax", "PRelu", "Pad", "Max", "Where", "Mean", "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare"] {
            #expect(ops.contains(op), "\(op) must still be in the graph to be tested: \(ops.sorted())")
        }
        try Self.check(model, batch: 2, sampleShape: [2, 6, 6], labels: [0, 2])
    }

    /// The nonlinear reductions' Hv (their weights' tangents), one small graph each: MatMul, the
    /// reduction over the last axis, Gemm head.
    @Test(arguments: ["ReduceL2", "ReduceSumSquare", "ReduceLogSumExp", "ReduceLogSum", "ReduceMax", "ReduceL1"])
    func nonlinearReductions(_ op: String) throws {
        var b = Builder()
        b.constant("w", [4, 4], scale: 1); b.constant("wh", [3, 3]); b.constant("bh", [3], scale: 0.1)
        b.node("MatMul", ["x", "w"], ["m"])
        var source = "m"
        if op == "ReduceLogSum" {
            b.node("Exp", ["m"], ["e"])
            source = "e"
        }
        b.node(op, [source], ["r"], ["axes": .ints([2]), "keepdims": .int(0)])
        b.node("Gemm", ["r", "wh", "bh"], ["logits"], ["transB": .int(1)])
        let model = try b.finish(input: [3, 4], output: "logits", classes: 3)
        try Self.check(model, batch: 2, sampleShape: [3, 4], labels: [1, 0])
    }

    /// The normalisations and activations exporters of detection, OCR and segmentation models emit,
    /// each between weights and the head, so that its tangent and tangent-adjoint rules enter Hv:
    /// standalone BatchNormalization (after a Conv with a residual, which keeps it unfolded),
    /// InstanceNormalization, GroupNormalization (per-group scale at opset 18, per-channel at 21),
    /// LpNormalization (p = 1, 2) and the activations. Input [N, 2, 3, 3], output `logits` [N, 3].
    static let normalisationsAndActivations = [
        "BatchNormalization", "InstanceNormalization", "GroupNormalization18", "GroupNormalization21", "LpNormalization1",
        "LpNormalization2", "HardSigmoid", "HardSwish", "Mish", "Celu", "Shrink", "ThresholdedRelu", "Elu", "Selu",
    ]

    static func normalisationOrActivationGraph(_ op: String, _ b: inout Builder) {
        b.constant("w", [3, 2, 3, 3], scale: 1); b.constant("wr", [3, 2, 1, 1], scale: 1)
        b.constant("wh", [3, 27]); b.constant("bh", [3], scale: 0.1)
        b.node("Conv", ["x", "w"], ["c"], ["kernel_shape": .ints([3, 3]), "pads": .ints([1, 1, 1, 1])])
        b.node("Conv", ["x", "wr"], ["r"], ["kernel_shape": .ints([1, 1])])
        b.node("Add", ["c", "r"], ["s"])
        switch op {
        case "BatchNormalization":
            b.constant("g", [3], values: [1.2, 0.8, 0.5]); b.constant("be", [3], scale: 0.1)
            b.constant("mu", [3], scale: 0.2); b.constant("var", [3], values: [0.5, 2, 0.3])
            b.node(op, ["s", "g", "be", "mu", "var"], ["y"], ["epsilon": .float(1e-5)])
        case "InstanceNormalization":
            b.constant("g", [3], values: [1.2, 0.8, 0.5]); b.constant("be", [3], scale: 0.2)
            b.node(op, ["s", "g", "be"], ["y"], ["epsilon": .float(1e-3)])
        case "GroupNormalization18", "GroupNormalization21":
            // 3 channels in 3 groups at 18 (scale per group), in 1 group at 21 (scale per channel).
            let at21 = op.hasSuffix("21")
            b.graph.opset = at21 ? 21 : 18
            b.constant("g", [3], values: [1.2, 0.8, 0.5]); b.constant("be", [3], scale: 0.2)
            b.node("GroupNormalization", ["s", "g", "be"], ["y"], ["num_groups": .int(at21 ? 1 : 3), "epsilon": .float(1e-3)])
        case "LpNormalization1", "LpNormalization2":
            b.node("LpNormalization", ["s"], ["y"], ["p": .int(op.hasSuffix("1") ? 1 : 2), "axis": .int(1)])
        default:
            let attributes: [String: Attribute] = [
                "Celu": ["alpha": .float(0.7)], "Shrink": ["lambd": .float(0.4), "bias": .float(0.4)],
                "ThresholdedRelu": ["alpha": .float(0.2)], "HardSigmoid": ["alpha": .float(0.3), "beta": .float(0.4)],
            ][op] ?? [:]
            b.node(op, ["s"], ["y"], attributes)
        }
        b.node("Flatten", ["y"], ["f"], ["axis": .int(1)])
        b.node("Gemm", ["f", "wh", "bh"], ["logits"], ["transB": .int(1)])
    }

    /// Shrink is checked in float64 only (Float64GradientTests): its two kinks at ±λ sit where this
    /// graph's activations are dense, and the float32 finite differences here (steps 1e-2 and 1e-3)
    /// straddle one, measuring the kink rather than the derivative.
    @Test(arguments: normalisationsAndActivations.filter { $0 != "Shrink" })
    func normalisationAndActivationHessians(_ op: String) throws {
        var b = Builder()
        Self.normalisationOrActivationGraph(op, &b)
        let model = try b.finish(input: [2, 3, 3], output: "logits", classes: 3)
        let name = op.hasPrefix("GroupNormalization") ? "GroupNormalization" : op.hasPrefix("LpNormalization") ? "LpNormalization" : op
        #expect(model.graph.nodes.contains { $0.opType == name }, "\(name) must still be in the graph: \(model.graph.nodes.map(\.opType))")
        try Self.check(model, batch: 2, sampleShape: [2, 3, 3], labels: [0, 2])
    }

    @Test func unlabelledDataUsesKLToTheFP32Outputs() throws {
        let model = try Self.attentionModel()
        let engine = try ReverseMode(model: model, batch: 2, sampleShape: [3, 4])
        let input = [Float](repeating: 0.3, count: 24).enumerated().map { Float($0.offset % 5) * 0.2 - $0.element }
        let reference = try input.withUnsafeBufferPointer { try engine.forwardProbabilities(input: $0.baseAddress!) }
        let loss = try input.withUnsafeBufferPointer { try engine.prepare(input: $0.baseAddress!, target: .probabilities(reference), scale: 0.5) }
        #expect(abs(loss) < 1e-6, "KL of the FP32 outputs to themselves is 0, got \(loss)")
        let gradient = try #require(engine.gradient(model.layers[0].weight))
        #expect(gradient.allSatisfy { abs($0) < 1e-5 })
    }

    @Test func unsupportedOpIsNamedBeforeAnythingRuns() throws {
        var b = Builder()
        b.constant("w", [1, 3])
        b.node("ReduceProd", ["x"], ["a"], ["axes": .ints([1]), "keepdims": .int(1)])
        b.node("MatMul", ["a", "w"], ["logits"])
        let model = try b.finish(input: [4], output: "logits", classes: 3)
        #expect {
            _ = try ReverseMode(model: model, batch: 2, sampleShape: [4])
        } throws: { error in
            "\(error)".contains("ReduceProd") && "\(error)".contains("ReduceProd_a") && "\(error)".contains("backward")
        }
    }

    @Test func outputMustKeepTheSamplesFirst() throws {
        var b = Builder()
        b.constant("w", [4, 3])
        b.node("MatMul", ["x", "w"], ["z"])
        b.node("ReduceSum", ["z"], ["logits"], ["axes": .ints([0]), "keepdims": .int(0)])
        let model = try b.finish(input: [4], output: "logits", classes: 3)
        #expect {
            _ = try ReverseMode(model: model, batch: 2, sampleShape: [4])
        } throws: { error in "\(error)".contains("needs the samples first") }
    }

    /// The label-free losses on a `[N, T, C]` output (a token classifier): KL of each row's softmax
    /// averaged over the rows, and the mean squared error over each sample's values. The gradient
    /// with respect to the weight equals central finite differences of the loss, both summed over
    /// the batch with the given scale.
    @Test(arguments: ["kl", "mse"])
    func rowWiseLossesMatchFiniteDifferences(_ kind: String) throws {
        var b = Builder()
        b.constant("w", [4, 3])
        b.node("MatMul", ["x", "w"], ["logits"])
        let model = try b.finish(input: [5, 4], output: "logits", classes: 3)
        let engine = try ReverseMode(model: model, batch: 2, sampleShape: [5, 4])
        #expect(engine.rows == 10 && engine.classes == 3)
        var generator = SplitMix64(seed: 7)
        let input = (0..<40).map { _ in Float(generator.nextOpenUnitInterval() * 2 - 1) }
        let raw = (0..<30).map { _ in Float(generator.nextOpenUnitInterval()) }
        var target: LossTarget
        if kind == "kl" {
            var q = raw
            for row in 0..<10 {
                let sum = q[(row * 3)..<(row * 3 + 3)].reduce(0, +)
                for c in 0..<3 { q[row * 3 + c] /= sum }
            }
            target = .probabilities(q)
        } else {
            target = .outputs(raw)
        }
        let weight = model.layers[0].weight
        func loss() throws -> Double {
            try input.withUnsafeBufferPointer { try engine.prepare(input: $0.baseAddress!, target: target, scale: 0.5) }
        }
        _ = try loss()
        let gradient = Array(try #require(engine.gradient(weight)))
        // Perturbed copies go in through `substitute`, which also drops the operator's packed weight.
        var w = Array(try #require(engine.compiled.value(weight)))
        func loss(_ values: [Float]) throws -> Double {
            try values.withUnsafeBufferPointer { buffer in
                engine.compiled.substitute(weight, with: buffer.baseAddress!)
                defer { engine.compiled.substitute(weight, with: nil) }
                return try loss()
            }
        }
        for i in 0..<12 {
            let saved = w[i]
            let h: Float = 1e-2
            w[i] = saved + h
            let plus = try loss(w)
            w[i] = saved - h
            let minus = try loss(w)
            w[i] = saved
            let fd = (plus - minus) / Double(2 * h)
            #expect(abs(fd - Double(gradient[i])) <= 2e-3 * max(1, abs(fd)), "weight \(i): finite difference \(fd), gradient \(gradient[i])")
        }
    }
}
