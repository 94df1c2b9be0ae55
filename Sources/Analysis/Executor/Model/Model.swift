import Foundation
import Kernels

/// A Conv, ConvTranspose, Gemm or MatMul node whose weight is a constant: what a quantization plan
/// assigns bits to. A QLinearConv, QLinearMatMul, ConvInteger or MatMulInteger node with constant
/// weight codes is one too: its weight is the dequantized float tensor (see `StoredQuantization`).
public struct QuantizableLayer: Sendable, Equatable {
    /// The node name, or the weight initializer's name when the file leaves the node unnamed.
    public var name: String
    public var opType: String
    /// Index of the node in `Model.graph.nodes`.
    public var nodeIndex: Int
    /// The weight's value id and shape (Conv: [out, in/group, kh, kw]; ConvTranspose: [in, out/group,
    /// kh, kw]; Gemm: as stored, see `outputAxis`).
    public var weight: ValueID
    public var weightShape: [Int]
    /// The axis of the weight that indexes output features (Conv 0; ConvTranspose 1, the output
    /// channel within its group; Gemm 0 with transB=1, else 1; MatMul the last).
    public var outputAxis: Int
    /// The float bias (Conv, Gemm, and MatMul with a fused Add); nil for the quantized ops, whose
    /// bias is int32 in units of the input and weight scales.
    public var bias: ValueID?
    /// How the model file stores this weight when it ships it quantized; nil for a float weight.
    public var stored: StoredQuantization? = nil

    public var parameterCount: Int { weightShape.reduce(1, *) }
}

/// A loaded, simplified model ready to compile: the graph IR plus what the listings need.
public struct Model: Sendable {
    /// Where the model came from, as the user named it.
    public var path: String
    /// The simplified graph (identity removed, constants and BatchNorm folded).
    public var graph: Graph
    /// Op type -> count, as in the file (before simplification).
    public var fileOpCounts: [String: Int]
    public var layers: [QuantizableLayer]
    /// How the file stores each weight it ships quantized, by the value id of the float weight the
    /// layers read (see `StoredQuantization`).
    public var storedWeights: [ValueID: StoredQuantization]

    /// Loads an ONNX file, simplifies it and checks that every op is supported, so that an
    /// unsupported op is reported by type and node name before anything runs.
    public static func load(path: String) throws -> Model {
        let raw = try ONNXLoader.load(path: path)
        do {
            return try Model(path: path, raw: raw)
        } catch let error as QScopeError {
            throw error.inFile(path)
        }
    }

    public init(path: String, raw: Graph) throws {
        self.path = path
        var counts: [String: Int] = [:]
        for node in raw.nodes { counts[node.opType, default: 0] += 1 }
        counts["Constant"] = nil
        self.fileOpCounts = counts
        let unsupported = raw.nodes.filter { OperatorRegistry.builder(for: $0) == nil }
        if let first = unsupported.first {
            let more = unsupported.count > 1 ? " (and \(unsupported.count - 1) more unsupported nodes)" : ""
            throw QScopeError("unsupported op \(first.domain.isEmpty ? "" : first.domain + ".")\(first.opType) in node '\(first.name)'\(more)")
        }
        // QDQ weights are recognised before simplification folds their DequantizeLinear away.
        var stored = StoredQuantization.recognizeDequantized(in: raw)
        var graph = try GraphSimplifier.simplify(raw)
        stored.merge(StoredQuantization.dequantizeOperatorWeights(&graph)) { first, _ in first }
        self.graph = graph
        self.storedWeights = stored
        self.layers = Model.findLayers(graph, stored: stored)
    }

    /// Op types whose constant float weight makes a quantizable layer.
    static let layerOps: Set<String> = [
        "Conv", "ConvTranspose", "Gemm", "MatMul", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger",
    ]

    /// The quantizable layers of `graph`, in node order; `stored` says how the file stores weights it
    /// ships quantized (`Model.storedWeights`).
    package static func findLayers(_ graph: Graph, stored: [ValueID: StoredQuantization] = [:]) -> [QuantizableLayer] {
        var layers: [QuantizableLayer] = []
        var used = Set<String>()
        for (index, node) in graph.nodes.enumerated() where layerOps.contains(node.opType) {
            let quantizedOp = StoredQuantization.weightInputs(of: node)
            let weightIndex = quantizedOp?.codes ?? 1
            guard node.inputs.count > weightIndex, let weight = node.inputs[weightIndex], let tensor = graph.constants[weight],
                  quantizedOp == nil || tensor.dataType.isFloat else { continue }
            if node.opType == "Gemm", case .int(let t)? = node.attributes["transA"], t != 0 { continue }
            var outputAxis = 0
            switch node.opType {
            case "Gemm":
                var transB = 0
                if case .int(let t)? = node.attributes["transB"] { transB = t }
                outputAxis = transB != 0 ? 0 : 1
            case "MatMul", "QLinearMatMul", "MatMulInteger": outputAxis = tensor.shape.count - 1
            case "ConvTranspose": outputAxis = 1
            default: outputAxis = 0
            }
            var name = node.name
            if isGeneratedName(name, opType: node.opType) {
                name = graph.valueNames[weight]  // no name of its own: name it after its weight
            }
            var unique = name
            var suffix = 2
            while used.contains(unique) {
                unique = "\(name)#\(suffix)"
                suffix += 1
            }
            used.insert(unique)
            let bias: ValueID? = quantizedOp == nil && node.inputs.count > 2 ? node.inputs[2] : nil
            layers.append(QuantizableLayer(name: unique, opType: node.opType, nodeIndex: index, weight: weight,
                                           weightShape: tensor.shape, outputAxis: outputAxis, bias: bias,
                                           stored: stored[weight]))
        }
        return layers
    }

    /// Whether a node name says no more than the op and its position, so that the weight's name is
    /// the better layer name: the loader's own `Conv_12` for unnamed nodes, and the counters that
    /// paddle2onnx writes (`Conv@12`, `p2o.Conv.12`). Names with any other text are kept.
    package static func isGeneratedName(_ name: String, opType: String) -> Bool {
        for prefix in ["\(opType)_", "\(opType)@", "p2o.\(opType)."] where name.hasPrefix(prefix) {
            let counter = name.dropFirst(prefix.count)
            if !counter.isEmpty, counter.allSatisfy(\.isASCII), Int(counter) != nil { return true }
        }
        return name.isEmpty
    }

    /// The concrete input shapes for `batch` samples of `sampleShape` (the model's first input; other
    /// inputs must have fully known dims).
    public func inputShapes(batch: Int, sampleShape: [Int]) throws -> [[Int]] {
        try graph.inputs.enumerated().map { index, spec in
            if index == 0 { return [batch] + sampleShape }
            let dims = spec.dims.enumerated().map { d, dim in dim ?? (d == 0 ? batch : -1) }
            guard dims.allSatisfy({ $0 > 0 }) else {
                throw QScopeError(file: path, "input '\(spec.name)' has unknown dims \(spec.shapeText)")
            }
            return dims
        }
    }

    /// The concrete input shapes for `batch` samples, one sample shape per graph input (in order):
    /// what a multi-input dataset binds (token ids and mask of one sequence length).
    public func inputShapes(batch: Int, sampleShapes: [[Int]]) throws -> [[Int]] {
        guard sampleShapes.count == graph.inputs.count else {
            throw QScopeError(file: path, "the model has \(graph.inputs.count) inputs, the data \(sampleShapes.count) arrays")
        }
        return sampleShapes.map { [batch] + $0 }
    }

    /// The sample shape the model declares for its first input (dims after the batch), nil where unknown.
    public var declaredSampleDims: [Int?] { Array((graph.inputs.first?.dims ?? []).dropFirst()) }

    /// Compiles the model for `batch` samples of `sampleShape` (first input; see
    /// `inputShapes(batch:sampleShape:)`); its operators use up to `threads` threads.
    public func compile(batch: Int, sampleShape: [Int], retainAll: Bool = false,
                        threads: Int = Parallel.maxThreads) throws -> CompiledGraph {
        try compile(inputShapes: inputShapes(batch: batch, sampleShape: sampleShape), retainAll: retainAll, threads: threads)
    }

    /// Compiles the model for `batch` samples of one sample shape per input.
    public func compile(batch: Int, sampleShapes: [[Int]], retainAll: Bool = false,
                        threads: Int = Parallel.maxThreads) throws -> CompiledGraph {
        try compile(inputShapes: inputShapes(batch: batch, sampleShapes: sampleShapes), retainAll: retainAll, threads: threads)
    }

    private func compile(inputShapes: [[Int]], retainAll: Bool, threads: Int) throws -> CompiledGraph {
        do {
            return try CompiledGraph(graph: graph, inputShapes: inputShapes, threads: threads, retainAll: retainAll)
        } catch let error as QScopeError {
            throw explainingFixedBatch(error, inputShapes: inputShapes).inFile(path)
        }
    }

    /// `error` with the likely cause added when an input declares a fixed batch other than the
    /// pass's: a model exported without a dynamic batch has that batch baked into its shape
    /// constants, and any other batch fails deep inside the graph (a Concat or Reshape that no
    /// longer fits), far from the cause.
    package func explainingFixedBatch(_ error: QScopeError, inputShapes: [[Int]]) -> QScopeError {
        guard let (spec, shape) = zip(graph.inputs, inputShapes).first(where: { spec, shape in
            guard let declared = spec.dims.first ?? nil else { return false }
            return declared > 0 && declared != shape.first
        }) else { return error }
        var explained = error
        explained.message += " (the model was exported with a fixed batch: input '\(spec.name)' is \(spec.shapeText), "
            + "this pass has \(shape.first ?? 0) samples; export it with a dynamic batch dimension, or evaluate with --batch \(spec.dims[0]!))"
        return explained
    }

    /// MACs per sample of each quantizable layer (output elements × reduction length), from a batch-1
    /// compilation.
    public func macsPerSample(sampleShapes: [[Int]]) throws -> [Int] {
        let compiled = try compile(batch: 1, sampleShapes: sampleShapes)
        return layers.map { layer in
            let node = graph.nodes[layer.nodeIndex]
            let outputs = compiled.types[node.outputs[0]]?.count ?? 0
            let w = layer.weightShape
            switch layer.opType {
            case "Conv", "QLinearConv", "ConvInteger": return outputs * w.dropFirst().reduce(1, *)
            case "ConvTranspose":
                // Each input element meets Cout/group · kh · kw weights.
                let inputs = node.inputs[0].flatMap { compiled.types[$0]?.count } ?? 0
                return inputs * w.dropFirst().reduce(1, *)
            case "Gemm": return outputs * w[1 - layer.outputAxis]
            default: return outputs * (w.count >= 2 ? w[w.count - 2] : 1)
            }
        }
    }
}
