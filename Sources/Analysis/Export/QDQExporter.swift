import Executor
import Foundation
import SwiftProtobuf

/// Writes the ONNX QDQ form of a plan: the model file as the user gave it, with
///
/// - each quantized layer's weight replaced by constant integer (or FP8) codes behind a
///   `DequantizeLinear` with its per-channel scales (`axis` always written: Conv 0, Gemm 0 with
///   transB=1 and 1 without, MatMul the last) and, for asymmetric grids, zero points;
/// - each quantized activation (plan `activations`) behind `Clip → QuantizeLinear → DequantizeLinear`
///   with the calibrated per-tensor scale and zero point. The Clip (in float, at the code range's
///   ends) makes the saturation the quantizer's own (`±(2^(B−1) − 1)` for symmetric codes, `2^B − 1`
///   for B below the container's width); it is left out when the container's range is the code range;
/// - grids no standard container holds (`WeightEncoding.Storage.baked`) stored as float weights;
/// - a BatchNormalization the loader folded into a quantized Conv removed, the Conv given the folded
///   bias (the quantized weights are the folded ones).
///
/// Containers: 8-bit codes in int8/uint8 (opset 13), FP8 (opset 19), 2–4-bit codes in int4/uint4 and
/// 9–16-bit codes in int16/uint16 (opset 21), activations in 8- or 16-bit containers. The model's
/// opset and IR version are raised to what the containers need (IR 7 / 9 / 10 for opset 13 / 19 / 21),
/// after checking that no node uses an attribute that later opsets turned into an input.
public enum QDQExporter {
    /// The result: the serialized model and what the export changed.
    public struct Output: Sendable {
        public var bytes: [UInt8]
        public var opset: Int
        public var irVersion: Int
        /// The opset the file had.
        public var originalOpset: Int
        public var notes: [String]
    }

    public static func export(_ input: ExportInput) throws -> Output {
        var model = input.proto
        var graph = model.graph
        var notes: [String] = []
        let originalOpset = Int(model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version ?? 0)
        var opset = originalOpset
        var newInitializers: [Onnx_TensorProto] = []
        var before: [Int: [Onnx_NodeProto]] = [:]  // file node index -> nodes to insert before it
        var removedNodes = Set<Int>()
        var usedNames = Set(graph.node.flatMap { $0.input + $0.output } + graph.initializer.map(\.name))
        func fresh(_ base: String) -> String {
            var name = base
            var k = 2
            while usedNames.contains(name) { name = "\(base)_\(k)"; k += 1 }
            usedNames.insert(name)
            return name
        }

        // Weights.
        for (i, encoding) in input.weights.enumerated() {
            guard let encoding else { continue }
            let layer = input.model.layers[i]
            let nodeIndex = input.fileNodes[i]
            let weightName = input.weightName(i)
            switch encoding.storage {
            case .baked(let values, _):
                let name = fresh(weightName + "_qscope_baked")
                newInitializers.append(floatTensor(name, shape: encoding.shape, values))
                graph.node[nodeIndex].input[1] = name
            case .integer(let type, let codes, let scales, let zeros):
                opset = max(opset, encoding.minimumOpset)
                let q = fresh(weightName + "_quantized")
                newInitializers.append(integerTensor(q, type: type, shape: encoding.shape, codes))
                let dq = dequantize(weightName, codes: q, scales: scales, zeroPoints: zeros.map { (type, $0) },
                                    axis: encoding.axis, fresh: fresh, into: &newInitializers)
                before[nodeIndex, default: []].append(dq)
                graph.node[nodeIndex].input[1] = dq.output[0]
            case .float8(let type, let elements, let scales):
                opset = max(opset, encoding.minimumOpset)
                guard let bytes = Float8Bits.encode(elements, type) else {
                    throw QScopeError("layer '\(layer.name)': an FP8 element is off the \(type) grid")
                }
                let q = fresh(weightName + "_quantized")
                var t = Onnx_TensorProto()
                t.name = q
                t.dims = encoding.shape.map(Int64.init)
                t.dataType = Int32(type.rawValue)
                t.rawData = Data(bytes)
                newInitializers.append(t)
                let dq = dequantize(weightName, codes: q, scales: scales, zeroPoints: nil, axis: encoding.axis,
                                    fresh: fresh, into: &newInitializers)
                before[nodeIndex, default: []].append(dq)
                graph.node[nodeIndex].input[1] = dq.output[0]
            }
            // The folded BatchNormalization: the Conv takes its place.
            if let bnIndex = input.foldedBatchNorm[i], let biasID = layer.bias, let bias = input.model.graph.constants[biasID] {
                let biasName = fresh(weightName + "_qscope_folded_bias")
                newInitializers.append(floatTensor(biasName, shape: [bias.count], bias.values))
                while graph.node[nodeIndex].input.count < 3 { graph.node[nodeIndex].input.append("") }
                graph.node[nodeIndex].input[2] = biasName
                graph.node[nodeIndex].output[0] = graph.node[bnIndex].output[0]
                removedNodes.insert(bnIndex)
                let bnName = graph.node[bnIndex].name
                notes.append("BatchNormalization '\(bnName)' folded into '\(layer.name)' (its weights are quantized after folding)")
            }
        }

        // Activations: one Clip/Q/DQ chain per file tensor, before its first quantized reader in file order.
        for entry in input.activations {
            let container: DataType
            let bits = entry.spec.bits
            if entry.spec.asymmetric { container = bits <= 8 ? .uint8 : .uint16 } else { container = bits <= 8 ? .int8 : .int16 }
            if bits > 8 { opset = max(opset, 21) }
            let readers = Dictionary(grouping: entry.layers, by: { input.inputName($0) })
            for tensor in readers.keys.sorted() {
                let fileIndices = readers[tensor]!.map { input.fileNodes[$0] }
                let c = entry.calibrated
                var source = tensor
                var nodes: [Onnx_NodeProto] = []
                let range = entry.codeRange
                let (low, high) = LinearQuantizationOperator.range(container)
                if Float(range.lowerBound) != low || Float(range.upperBound) != high {
                    let lo = fresh(tensor + "_clip_min"), hi = fresh(tensor + "_clip_max")
                    newInitializers.append(floatTensor(lo, shape: [], [Float(range.lowerBound - c.zeroPoint) * c.scale]))
                    newInitializers.append(floatTensor(hi, shape: [], [Float(range.upperBound - c.zeroPoint) * c.scale]))
                    let clipped = fresh(tensor + "_clipped")
                    nodes.append(node("Clip", name: fresh(tensor + "_Clip"), inputs: [source, lo, hi], outputs: [clipped]))
                    source = clipped
                }
                let scale = fresh(tensor + "_scale"), zero = fresh(tensor + "_zero_point")
                newInitializers.append(floatTensor(scale, shape: [], [c.scale]))
                newInitializers.append(integerTensor(zero, type: container, shape: [], [c.zeroPoint]))
                let quantized = fresh(tensor + "_quantized"), dequantized = fresh(tensor + "_dequantized")
                nodes.append(node("QuantizeLinear", name: fresh(tensor + "_QuantizeLinear"), inputs: [source, scale, zero], outputs: [quantized]))
                nodes.append(node("DequantizeLinear", name: fresh(tensor + "_DequantizeLinear"), inputs: [quantized, scale, zero], outputs: [dequantized]))
                before[fileIndices.min()!, default: []].insert(contentsOf: nodes, at: 0)
                for index in fileIndices { graph.node[index].input[0] = dequantized }
            }
        }

        if opset > originalOpset {
            newInitializers += upgradeAttributesToInputs(&graph, from: originalOpset, to: opset, fresh: fresh)
            try checkOpsetRaise(graph, from: originalOpset, to: opset)
            notes.append("opset raised from \(originalOpset) to \(opset) for the quantized containers")
        }
        var nodes: [Onnx_NodeProto] = []
        for (index, node) in graph.node.enumerated() {
            nodes += before[index] ?? []
            if !removedNodes.contains(index) { nodes.append(node) }
        }
        graph.node = nodes
        graph.initializer += newInitializers
        removeUnread(&graph)
        model.graph = graph
        for k in model.opsetImport.indices where model.opsetImport[k].domain.isEmpty || model.opsetImport[k].domain == "ai.onnx" {
            model.opsetImport[k].version = Int64(opset)
        }
        let ir = opset >= 21 ? 10 : opset >= 19 ? 9 : opset >= 13 ? 7 : Int(model.irVersion)
        model.irVersion = max(model.irVersion, Int64(ir))
        model.producerName = "qscope"
        let bytes: [UInt8] = try model.serializedBytes()
        return Output(bytes: bytes, opset: opset, irVersion: Int(model.irVersion), originalOpset: originalOpset, notes: notes)
    }

    /// A DequantizeLinear node reading `codes` with new scale (and zero point) initializers.
    private static func dequantize(_ base: String, codes: String, scales: [Float], zeroPoints: (DataType, [Int32])?, axis: Int?,
                                   fresh: (String) -> String, into initializers: inout [Onnx_TensorProto]) -> Onnx_NodeProto {
        let shape = axis == nil ? [] : [scales.count]
        let scale = fresh(base + "_scale")
        initializers.append(floatTensor(scale, shape: shape, scales))
        var inputs = [codes, scale]
        if let (type, zeros) = zeroPoints {
            let zero = fresh(base + "_zero_point")
            initializers.append(integerTensor(zero, type: type, shape: shape, zeros))
            inputs.append(zero)
        }
        var dq = node("DequantizeLinear", name: fresh(base + "_DequantizeLinear"), inputs: inputs, outputs: [fresh(base + "_dequantized")])
        if let axis {
            var attribute = Onnx_AttributeProto()
            attribute.name = "axis"
            attribute.type = .int
            attribute.i = Int64(axis)
            dq.attribute.append(attribute)
        }
        return dq
    }

    private static func node(_ op: String, name: String, inputs: [String], outputs: [String]) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = name
        n.input = inputs
        n.output = outputs
        return n
    }

    static func floatTensor(_ name: String, shape: [Int], _ values: some Collection<Float>) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map(Int64.init)
        t.dataType = Int32(DataType.float32.rawValue)
        var data = Data(capacity: values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        t.rawData = data
        return t
    }

    /// Integer codes as `raw_data`: one byte (8-bit), two little-endian bytes (16-bit), or two per
    /// byte, low nibble first (4-bit, odd counts padded with a zero nibble).
    static func integerTensor(_ name: String, type: DataType, shape: [Int], _ codes: [Int32]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = shape.map(Int64.init)
        t.dataType = Int32(type.rawValue)
        var bytes: [UInt8] = []
        switch type {
        case .int4, .uint4:
            bytes = [UInt8](repeating: 0, count: (codes.count + 1) / 2)
            for (i, c) in codes.enumerated() {
                let nibble = UInt8(truncatingIfNeeded: c) & 0xF
                bytes[i / 2] |= i % 2 == 0 ? nibble : nibble << 4
            }
        case .int16, .uint16:
            for c in codes {
                let v = UInt16(truncatingIfNeeded: c)
                bytes += [UInt8(v & 0xFF), UInt8(v >> 8)]
            }
        default:
            bytes = codes.map { UInt8(truncatingIfNeeded: $0) }
        }
        t.rawData = Data(bytes)
        return t
    }

    /// Ops whose attribute became an input at a later opset: raising the opset past it would change
    /// the meaning of a node that still uses the attribute.
    private static let attributeBecameInput: [(op: String, attribute: String, opset: Int)] = [
        ("Squeeze", "axes", 13), ("Unsqueeze", "axes", 13), ("ReduceSum", "axes", 13), ("Split", "split", 13),
        ("ReduceMean", "axes", 18), ("ReduceMax", "axes", 18), ("ReduceMin", "axes", 18), ("ReduceProd", "axes", 18),
        ("ReduceL1", "axes", 18), ("ReduceL2", "axes", 18), ("ReduceLogSum", "axes", 18),
        ("ReduceLogSumExp", "axes", 18), ("ReduceSumSquare", "axes", 18), ("Pad", "pads", 11), ("Clip", "min", 11),
        ("Clip", "max", 11), ("Resize", "scales", 11), ("Upsample", "scales", 9),
    ]

    /// Rewrites the nodes whose attribute became an input between `old` and `new` (the `axes` of the
    /// reductions, Squeeze and Unsqueeze, Split's `split`, Pad's `pads` and `value`, Clip's `min` and
    /// `max`) to take it as a constant input, so that raising the opset keeps their meaning: a
    /// transformer exported at opset 17 (ReduceL2 with `axes` for the embedding's normalisation) can
    /// hold 4-bit containers, which need opset 21. Returns the new constants; `fresh` names them.
    private static func upgradeAttributesToInputs(_ graph: inout Onnx_GraphProto, from old: Int, to new: Int,
                                                  fresh: (String) -> String) -> [Onnx_TensorProto] {
        var constants: [Onnx_TensorProto] = []
        func setInput(_ node: inout Onnx_NodeProto, _ index: Int, _ name: String) {
            while node.input.count <= index { node.input.append("") }
            node.input[index] = name
        }
        for n in graph.node.indices where graph.node[n].domain.isEmpty || graph.node[n].domain == "ai.onnx" {
            var node = graph.node[n]
            for rule in attributeBecameInput where rule.op == node.opType && old < rule.opset && new >= rule.opset {
                guard let attribute = node.attribute.first(where: { $0.name == rule.attribute }) else { continue }
                let label = node.name.isEmpty ? node.opType : node.name
                switch (rule.op, rule.attribute) {
                case (_, "axes"), ("Split", "split"), ("Pad", "pads"):
                    let name = fresh("\(label)_\(rule.attribute)")
                    var t = Onnx_TensorProto()
                    t.name = name
                    t.dims = [Int64(attribute.ints.count)]
                    t.dataType = Int32(DataType.int64.rawValue)
                    t.int64Data = attribute.ints
                    constants.append(t)
                    setInput(&node, 1, name)
                    if rule.op == "Pad", let value = node.attribute.first(where: { $0.name == "value" }) {
                        let valueName = fresh("\(label)_value")
                        constants.append(floatTensor(valueName, shape: [], [value.f]))
                        setInput(&node, 2, valueName)
                        node.attribute.removeAll { $0.name == "value" }
                    }
                case ("Clip", "min"), ("Clip", "max"):
                    let name = fresh("\(label)_\(rule.attribute)")
                    constants.append(floatTensor(name, shape: [], [attribute.f]))
                    setInput(&node, rule.attribute == "min" ? 1 : 2, name)
                default:
                    continue  // Resize and Upsample scales: left for checkOpsetRaise to refuse
                }
                node.attribute.removeAll { $0.name == rule.attribute }
            }
            graph.node[n] = node
        }
        return constants
    }

    private static func checkOpsetRaise(_ graph: Onnx_GraphProto, from old: Int, to new: Int) throws {
        for node in graph.node where node.domain.isEmpty || node.domain == "ai.onnx" {
            for rule in attributeBecameInput where rule.op == node.opType && old < rule.opset && new >= rule.opset {
                if node.attribute.contains(where: { $0.name == rule.attribute }) {
                    throw QScopeError("the export needs opset \(new) but \(node.opType) '\(node.name)' uses the '\(rule.attribute)' attribute of opset \(old) (an input since opset \(rule.opset)); re-export the model at opset \(rule.opset) or later")
                }
            }
        }
    }

    /// Drops what nothing reads any more: nodes none of whose outputs is read or a graph output
    /// (Constant nodes or constant chains that produced a replaced weight), initializers (the
    /// replaced FP32 weights, a folded BN's parameters), graph inputs that only declared them, and
    /// value_info entries of tensors no longer produced.
    private static func removeUnread(_ graph: inout Onnx_GraphProto) {
        let outputs = Set(graph.output.map(\.name))
        var changed = true
        while changed {
            var read = outputs
            for node in graph.node { read.formUnion(node.input) }
            let before = graph.node.count
            graph.node.removeAll { node in node.output.allSatisfy { $0.isEmpty || !read.contains($0) } }
            changed = graph.node.count != before
        }
        var read = outputs
        for node in graph.node { read.formUnion(node.input) }
        let dropped = Set(graph.initializer.map(\.name)).subtracting(read)
        graph.initializer.removeAll { dropped.contains($0.name) }
        graph.input.removeAll { dropped.contains($0.name) }
        let produced = Set(graph.node.flatMap(\.output))
        graph.valueInfo.removeAll { !produced.contains($0.name) }
    }
}
