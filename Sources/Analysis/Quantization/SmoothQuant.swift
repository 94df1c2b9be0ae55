import Executor
import Foundation
import Kernels

/// SmoothQuant and its SQ-b variant (from MPTQ-ViT) as a graph rewrite for fake-quant
/// simulation.
///
/// For every Gemm (alpha = beta = 1) or MatMul layer with a constant 2-D weight, per input channel j
/// of the layer (the last axis of its input X):
/// - calibration records the channel's min and max over the calibration samples;
/// - plain: `a_j = max|X_j|`, `c_j = 0`; SQ-b: `c_j = (max + min)/2`, `a_j = r_j = (max − min)/2`;
/// - `w_j = max(max_k |W_kj|, 1e-5)`, `s_j = max(a_j^α / w_j^(1−α), 1e-5)` (Float32, `powf`);
/// - dead channel guard (the reference clamps at 1e-5 only): `a_j = 0` (the channel never varied in calibration) gives
///   `s_j = 1` instead of 1e-5, so an unseen value at evaluation is not multiplied by 10^5;
/// - the layer then reads `X̂ = (X − c)/s` (a `Sub` for SQ-b, then a `Div`, both with [C] constants)
///   and the weight `Ŵ = W·s` (a new constant); SQ-b adds `Σ_j W_kj c_j` (ORIGINAL W, accumulated in
///   Double, rounded once) to the Gemm bias, or through a new `Add` after a MatMul.
///
/// In exact arithmetic the rewritten graph computes what the original does; in Float32 it agrees to
/// rounding (tested). We cannot always fold 1/s into a preceding LayerNorm, so unlike the reference
/// (which smooths only norm-preceded linears) every eligible layer is smoothed, each with
/// its own s (layers sharing an input, e.g. q/k/v, then get separate smoothed inputs). Other layers
/// (Conv, batched MatMul weights, Gemm with alpha/beta ≠ 1) are left as they are and listed in
/// `skipped`.
public enum SmoothQuant {
    public static let minimumScale: Float = 1e-5

    /// What was done to one layer.
    public struct SmoothedLayer: Sendable {
        public var name: String
        public var opType: String
        /// s_j per input channel.
        public var scales: [Float]
        /// c_j per input channel (SQ-b), nil for plain SmoothQuant.
        public var centres: [Float]?
        /// Channels where the dead-channel guard set s_j = 1.
        public var deadChannels: Int
    }

    public struct Result: Sendable {
        /// The rewritten model (layers re-found; weights of smoothed layers are new constants).
        public var model: Model
        public var layers: [SmoothedLayer]
        /// Layers not smoothed, with the reason.
        public var skipped: [(name: String, reason: String)]
    }

    /// Input-channel count and axis of the weight that indexes input channels, or why the layer is
    /// not smoothed.
    static func inputAxis(of layer: QuantizableLayer, in model: Model) -> Eligibility {
        let node = model.graph.nodes[layer.nodeIndex]
        guard layer.opType == "Gemm" || layer.opType == "MatMul" else { return .skip("\(layer.opType): only Gemm/MatMul are smoothed") }
        guard layer.weightShape.count == 2 else { return .skip("weight is not 2-D") }
        if layer.opType == "Gemm" {
            for key in ["alpha", "beta"] {
                if case .float(let v)? = node.attributes[key], v != 1 { return .skip("Gemm \(key) ≠ 1") }
            }
        }
        let axis = 1 - layer.outputAxis
        return .axis(axis)
    }

    enum Eligibility {
        case axis(Int)
        case skip(String)
    }

    /// Calibrates on `calibration` and rewrites `model`.
    public static func apply(_ smoothing: ActivationSpec.Smoothing, to model: Model, calibration: Dataset,
                             batch: Int = 256) throws -> Result {
        guard calibration.count > 0 else { throw QScopeError("SmoothQuant calibration needs at least one sample") }
        guard smoothing.alpha.isFinite, (0...1).contains(smoothing.alpha) else {
            throw QScopeError("smooth=α needs α in [0, 1], got \(smoothing.alpha)")
        }
        var chosen: [(QuantizableLayer, Int)] = []
        var skipped: [(name: String, reason: String)] = []
        for layer in model.layers {
            switch inputAxis(of: layer, in: model) {
            case .axis(let a): chosen.append((layer, a))
            case .skip(let why): skipped.append((layer.name, why))
            }
        }
        var inputs: [ValueID: Int] = [:]  // input value -> channels
        for (layer, axis) in chosen {
            guard let input = model.graph.nodes[layer.nodeIndex].inputs[0] else { continue }
            inputs[input] = layer.weightShape[axis]
        }
        let stats = try observeChannels(model: model, inputs: inputs, calibration: calibration, batch: batch)

        var graph = model.graph
        var layers: [SmoothedLayer] = []
        var before: [Int: [Node]] = [:]  // node index -> nodes to insert before it
        var after: [Int: [Node]] = [:]
        for (layer, axis) in chosen {
            var node = graph.nodes[layer.nodeIndex]
            guard let input = node.inputs[0], let (lo, hi) = stats[input],
                  let weight = model.graph.constants[layer.weight] else { continue }
            let channels = layer.weightShape[axis]
            let outputs = layer.weightShape[1 - axis]
            // W as [k][j] accessors: weight element for output k, input j.
            let w = weight.values
            @inline(__always) func index(_ k: Int, _ j: Int) -> Int { axis == 1 ? k * channels + j : j * outputs + k }
            var centres = [Float](repeating: 0, count: channels)
            var scales = [Float](repeating: 1, count: channels)
            var dead = 0
            for j in 0..<channels {
                var wmax: Float = 0
                for k in 0..<outputs { wmax = max(wmax, abs(w[index(k, j)])) }
                wmax = max(wmax, minimumScale)
                let a: Float
                if smoothing.bias {
                    centres[j] = (hi[j] + lo[j]) / 2
                    a = (hi[j] - lo[j]) / 2
                } else {
                    a = max(abs(lo[j]), abs(hi[j]))
                }
                if !(a > 0) || !a.isFinite {
                    dead += 1
                    scales[j] = 1
                    if !centres[j].isFinite { centres[j] = 0 }
                    continue
                }
                scales[j] = max(powf(a, smoothing.alpha) / powf(wmax, 1 - smoothing.alpha), minimumScale)
            }
            let base = model.graph.valueNames[input]
            let tag = layer.name + (smoothing.bias ? "_sqb" : "_smooth")
            var inserted: [Node] = []
            var current = input
            if smoothing.bias {
                let c = graph.addValue(named: tag + "_centre")
                graph.constants[c] = Tensor(shape: [channels], values: centres)
                let out = graph.addValue(named: base + "_centred_" + tag)
                inserted.append(Node(name: tag + "_sub", opType: "Sub", inputs: [current, c], outputs: [out]))
                current = out
            }
            let s = graph.addValue(named: tag + "_scale")
            graph.constants[s] = Tensor(shape: [channels], values: scales)
            let smoothed = graph.addValue(named: base + "_" + tag)
            inserted.append(Node(name: tag + "_div", opType: "Div", inputs: [current, s], outputs: [smoothed]))
            node.inputs[0] = smoothed
            before[layer.nodeIndex] = inserted

            var scaled = w
            for k in 0..<outputs { for j in 0..<channels { scaled[index(k, j)] = w[index(k, j)] * scales[j] } }
            let newWeight = graph.addValue(named: model.graph.valueNames[layer.weight] + tag)
            graph.constants[newWeight] = Tensor(shape: weight.shape, values: scaled)
            node.inputs[1] = newWeight

            if smoothing.bias {
                var delta = [Float](repeating: 0, count: outputs)
                for k in 0..<outputs {
                    var sum = 0.0
                    for j in 0..<channels { sum += Double(w[index(k, j)]) * Double(centres[j]) }
                    delta[k] = Float(sum)
                }
                if layer.opType == "Gemm" {
                    let newBias = graph.addValue(named: tag + "_bias")
                    if let b = layer.bias, let old = model.graph.constants[b] {
                        guard old.count == outputs else {
                            throw QScopeError(file: model.path, "layer '\(layer.name)': SQ-b needs a bias of \(outputs) values, found shape \(old.shape)")
                        }
                        graph.constants[newBias] = Tensor(shape: old.shape, values: zip(old.values, delta).map { $0 + $1 })
                    } else if layer.bias == nil {
                        graph.constants[newBias] = Tensor(shape: [outputs], values: delta)
                    } else {
                        throw QScopeError(file: model.path, "layer '\(layer.name)': SQ-b needs a constant bias")
                    }
                    while node.inputs.count < 3 { node.inputs.append(nil) }
                    node.inputs[2] = newBias
                } else {
                    let d = graph.addValue(named: tag + "_bias")
                    graph.constants[d] = Tensor(shape: [outputs], values: delta)
                    let original = node.outputs[0]
                    let raw = graph.addValue(named: model.graph.valueNames[original] + "_" + tag)
                    node.outputs[0] = raw
                    after[layer.nodeIndex] = [Node(name: tag + "_add", opType: "Add", inputs: [raw, d], outputs: [original])]
                }
            }
            graph.nodes[layer.nodeIndex] = node
            layers.append(SmoothedLayer(name: layer.name, opType: layer.opType, scales: scales,
                                        centres: smoothing.bias ? centres : nil, deadChannels: dead))
        }
        var nodes: [Node] = []
        for (index, node) in graph.nodes.enumerated() {
            nodes += before[index] ?? []
            nodes.append(node)
            nodes += after[index] ?? []
        }
        graph.nodes = nodes
        var rewritten = model
        rewritten.graph = graph
        let names = model.layers.map(\.name)
        rewritten.layers = Model.findLayers(graph)
        // Keep the user-facing layer names (a layer named after its weight would otherwise pick up
        // the new weight's name).
        if rewritten.layers.count == names.count {
            for i in rewritten.layers.indices { rewritten.layers[i].name = names[i] }
        }
        return Result(model: rewritten, layers: layers, skipped: skipped)
    }

    /// Per-channel (last axis) min and max of each value in `inputs` over the calibration samples.
    static func observeChannels(model: Model, inputs: [ValueID: Int], calibration: Dataset,
                                batch: Int) throws -> [ValueID: ([Float], [Float])] {
        var stats: [ValueID: ([Float], [Float])] = [:]
        for (id, c) in inputs { stats[id] = ([Float](repeating: .infinity, count: c), [Float](repeating: -.infinity, count: c)) }
        if inputs.isEmpty { return stats }
        try CalibrationPass.run(model: model, calibration: calibration, batch: batch) { graph, _ in
            for (id, channels) in inputs {
                guard let values = graph.value(id) else { throw QScopeError("layer input \(model.graph.valueNames[id]) is not kept") }
                guard values.count % channels == 0 else {
                    throw QScopeError("layer input \(model.graph.valueNames[id]) has \(values.count) values, not a multiple of \(channels) channels")
                }
                var (lo, hi) = stats[id]!
                var i = 0
                while i < values.count {
                    for j in 0..<channels {
                        let v = values[i + j]
                        if v.isNaN { continue }
                        lo[j] = min(lo[j], v)
                        hi[j] = max(hi[j], v)
                    }
                    i += channels
                }
                stats[id] = (lo, hi)
            }
        }
        return stats
    }
}
