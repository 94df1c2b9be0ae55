import Executor
/// Fake-quantized weights per (layer, quantizer spec), computed once and kept for the session.
///
/// Buffers are allocated once and never freed or reused while the cache lives: the executor
/// reads them in place (`CompiledGraph.substitute`) and its packed-weight cache is keyed by buffer
/// address, so an address must never come back with different contents. The sample models'
/// weights are small (≤ 0.25 M per layer), so even every width of every layer fits easily.
///
/// Not thread-safe: owned by one `PlanEvaluator`, which the engine uses serially.
final class QuantizedWeightCache {
    struct Entry {
        var result: LayerQuantization
        /// Quantize-dequantized weights, same layout as the FP32 weight.
        var weights: UnsafeMutableBufferPointer<Float>
        /// Replacement bias when the method changes it.
        var bias: UnsafeMutableBufferPointer<Float>?
    }

    private struct Key: Hashable {
        var layer: Int
        var spec: QuantizerSpec
    }

    private let model: Model
    private var entries: [Key: Entry] = [:]
    /// Computes the Fisher diagonal that weights `lut` k-means (nil result: plain k-means); called at
    /// most once successfully, on the first `lut` entry.
    private let computeFisher: () throws -> FisherDiagonal?
    private var fisher: FisherDiagonal??

    init(model: Model, fisher: @escaping () throws -> FisherDiagonal? = { nil }) {
        self.model = model
        self.computeFisher = fisher
    }

    /// The Fisher diagonal (computed on first use and kept; a failed or cancelled computation is
    /// retried next time).
    func fisherDiagonal() throws -> FisherDiagonal? {
        if let fisher { return fisher }
        let computed = try computeFisher()
        fisher = .some(computed)
        return computed
    }

    deinit {
        for entry in entries.values {
            entry.weights.deallocate()
            entry.bias?.deallocate()
        }
    }

    /// The quantized weights of layer `layer` under `spec` (computed on first use).
    func entry(layer: Int, spec: QuantizerSpec) throws -> Entry {
        let key = Key(layer: layer, spec: spec)
        if let cached = entries[key] { return cached }
        let info = model.layers[layer]
        try info.check(spec)
        guard let weight = model.graph.constants[info.weight] else {
            throw QScopeError(file: model.path, "layer '\(info.name)' has no constant weight")
        }
        let bias = info.bias.flatMap { model.graph.constants[$0] }
        let quantized: QuantizedWeights
        let sensitivity = spec.usesSensitivity ? try fisherDiagonal()?.values(forLayer: info.name) : nil
        do {
            quantized = try spec.quantize(weight: weight, outputAxis: info.outputAxis, bias: bias, sensitivity: sensitivity)
        } catch let error as QScopeError {
            throw QScopeError(file: error.file, "layer '\(info.name)': \(error.message)")
        }
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: quantized.values.count)
        _ = buffer.initialize(from: quantized.values)
        var biasBuffer: UnsafeMutableBufferPointer<Float>?
        if let newBias = quantized.bias {
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: newBias.count)
            _ = b.initialize(from: newBias)
            biasBuffer = b
        }
        let levels = Self.gridLevels(quantized.values, shape: weight.shape, axis: info.outputAxis, weights: weight.values)
        let entry = Entry(result: LayerQuantization(parameters: weight.count, payloadBits: quantized.payloadBits,
                                                    totalBits: quantized.totalBits, sqnrDB: quantized.sqnrDB,
                                                    gridLevels: levels, fisherWeighted: sensitivity != nil),
                          weights: buffer, bias: biasBuffer)
        entries[key] = entry
        return entry
    }

    /// The distinct dequantized values of the channel that holds max |w| (empty when too many).
    static func gridLevels(_ quantized: [Float], shape: [Int], axis: Int, weights: some Collection<Float>) -> [Float] {
        var absMaxIndex = 0
        var absMax: Float = -1
        for (i, v) in weights.enumerated() where abs(v) > absMax {
            absMax = abs(v)
            absMaxIndex = i
        }
        let channel = ChannelIndex.channel(ofFlatIndex: absMaxIndex, shape: shape, axis: axis)
        let levels = Set(ChannelIndex.values(quantized, shape: shape, axis: axis, channel: channel))
        return levels.count > LayerQuantization.maxGridLevels ? [] : levels.sorted()
    }
}
