import Executor
import Foundation
import Kernels

/// One quantizer applied to a set of a model's layers: the quantize-dequantized weights, their sizes,
/// and the buffers that compiled graphs read in place of the FP32 weights (the model's
/// weights are never modified; `CompiledGraph.substitute` points the operators at these copies).
///
/// The buffers live as long as this object: call `remove(from:)` before dropping it.
public final class QuantizedModelWeights: @unchecked Sendable {
    public let spec: QuantizerSpec
    /// The layers quantized, in model order, with their results.
    public let layers: [QuantizableLayer]
    public let results: [QuantizedWeights]
    /// Whether a Fisher diagonal weighted the k-means (a `lut` spec given `fisher`).
    public let fisherWeighted: Bool
    private let buffers: [(ValueID, UnsafeMutablePointer<Float>)]

    /// Quantizes the weights of `layers` (default: every quantizable layer of `model`). `fisher`, when
    /// given, weights the k-means of `lut` specs (SqueezeLLM's sensitivity weighting); other specs ignore it.
    public init(model: Model, spec: QuantizerSpec, layers: [QuantizableLayer]? = nil, fisher: FisherDiagonal? = nil,
                threads: Int = 1) throws {
        self.spec = spec
        self.fisherWeighted = fisher != nil && spec.usesSensitivity
        let chosen = layers ?? model.layers
        var results: [QuantizedWeights] = []
        var buffers: [(ValueID, UnsafeMutablePointer<Float>)] = []
        for layer in chosen {
            try layer.check(spec)
            guard let weight = model.graph.constants[layer.weight] else {
                throw QScopeError(file: model.path, "layer '\(layer.name)' has no constant weight")
            }
            let bias = layer.bias.flatMap { model.graph.constants[$0] }
            let sensitivity = spec.usesSensitivity ? fisher?.values(forLayer: layer.name) : nil
            let result = try spec.quantize(weight: weight, outputAxis: layer.outputAxis, bias: bias,
                                           sensitivity: sensitivity, threads: threads)
            results.append(result)
            buffers.append((layer.weight, Self.copy(result.values)))
            if let newBias = result.bias, let biasID = layer.bias { buffers.append((biasID, Self.copy(newBias))) }
        }
        self.layers = chosen
        self.results = results
        self.buffers = buffers
    }

    deinit { for (_, buffer) in buffers { buffer.deallocate() } }

    private static func copy(_ values: [Float]) -> UnsafeMutablePointer<Float> {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(values.count, 1))
        values.withUnsafeBufferPointer { buffer.initialize(from: $0.baseAddress!, count: values.count) }
        return buffer
    }

    /// Makes `graph` read the quantized weights.
    public func install(in graph: CompiledGraph) {
        for (id, buffer) in buffers { graph.substitute(id, with: UnsafePointer(buffer)) }
    }

    /// Restores the FP32 weights in `graph`.
    public func remove(from graph: CompiledGraph) {
        for (id, _) in buffers { graph.substitute(id, with: nil) }
    }

    /// Weights quantized.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
    /// Bits with all metadata / codes only, over the quantized layers.
    public var totalBits: Int { results.reduce(0) { $0 + $1.totalBits } }
    public var payloadBits: Int { results.reduce(0) { $0 + $1.payloadBits } }
    /// Average bits per weight with metadata.
    public var bitsPerWeight: Double { Double(totalBits) / Double(max(parameterCount, 1)) }

    /// SQNR of all quantized weights together, in dB (+inf when exact).
    public func weightSQNR(model: Model) -> Double {
        var signal = 0.0
        var noise = 0.0
        for (layer, result) in zip(layers, results) {
            guard let original = model.graph.constants[layer.weight] else { continue }
            for (w, q) in zip(original.values, result.values) {
                signal += Double(w) * Double(w)
                noise += (Double(w) - Double(q)) * (Double(w) - Double(q))
            }
        }
        return noise == 0 ? .infinity : 10 * log10(signal / noise)
    }
}
