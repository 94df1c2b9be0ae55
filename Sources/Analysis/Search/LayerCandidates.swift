import Executor
import Foundation

/// One way to quantize one layer: a spec, what it costs in storage and how far it moves the weights.
public struct BitCandidate: Hashable, Sendable {
    public var spec: QuantizerSpec
    /// Storage with every piece of metadata (scales, zero points, codebooks...), from the
    /// quantizer's own bit count (the "Size accounting" section of the quantization methods page in docs/); this is what budgets are checked against.
    public var totalBits: Int
    /// Bits of the codes alone ("weights only").
    public var payloadBits: Int
    /// ‖Q(W) − W‖², summed in Double over every weight of the layer.
    public var squaredError: Double

    public init(spec: QuantizerSpec, totalBits: Int, payloadBits: Int, squaredError: Double) {
        self.spec = spec
        self.totalBits = totalBits
        self.payloadBits = payloadBits
        self.squaredError = squaredError
    }
}

/// The candidates of one quantizable layer, ordered by nominal bit-width ascending.
public struct LayerCandidates: Sendable {
    public var name: String
    public var parameters: Int
    /// Hessian trace / #params of the layer (HAWQ-V2 T̄), nil when the search does not use traces
    /// (Greedy MP measures accuracy instead).
    public var tracePerParameter: Double?
    public var candidates: [BitCandidate]

    public init(name: String, parameters: Int, tracePerParameter: Double?, candidates: [BitCandidate]) {
        self.name = name
        self.parameters = parameters
        self.tracePerParameter = tracePerParameter
        self.candidates = candidates
    }

    /// HAWQ-V2 Ω of candidate `index`: T̄ · ‖Q(W) − W‖² with T̄ = trace / #params, nil without a trace.
    ///
    /// A negative trace (a non-convex direction at these weights, or estimator noise) is taken as 0:
    /// such a layer is insensitive, and a negative Ω would otherwise reward a larger error.
    public func omega(_ index: Int) -> Double? {
        tracePerParameter.map { max(0, $0) * candidates[index].squaredError }
    }

    /// The index of the smallest candidate (by total bits).
    public var smallestIndex: Int {
        candidates.indices.min { candidates[$0].totalBits < candidates[$1].totalBits }!
    }

    /// The index of the candidate with the most bits (nominal width, then size): where Greedy MP starts.
    public var widestIndex: Int { candidates.count - 1 }
}

/// Builds the per-layer candidates of a model.
public enum CandidateBuilder {
    /// `layers` with each layer's Hessian trace per parameter replaced by `tracesPerParameter`
    /// (model order). Throws one line naming `purpose` when the counts differ.
    public static func withTraces(_ layers: [LayerCandidates], _ tracesPerParameter: [Double],
                                  for purpose: String) throws -> [LayerCandidates] {
        guard tracesPerParameter.count == layers.count else {
            throw QScopeError("\(purpose) needs one trace per layer: \(tracesPerParameter.count) traces for \(layers.count) layers")
        }
        return zip(layers, tracesPerParameter).map { layer, trace in
            var copy = layer
            copy.tracePerParameter = trace
            return copy
        }
    }

    /// Quantizes every layer at every width of `bitWidths` with `family`.
    ///
    /// - Parameters:
    ///   - bitWidths: ascending, distinct (see `BitWidthList`).
    ///   - tracesPerParameter: per layer in model order (from `HessianReport`), or nil.
    /// - Throws: `QScopeError` when a layer has no constant weight or the family cannot be applied.
    public static func build(model: Model, bitWidths: [Int], family: QuantizerFamilyTemplate,
                             tracesPerParameter: [Double]? = nil, threads: Int = 1) throws -> [LayerCandidates] {
        precondition(tracesPerParameter == nil || tracesPerParameter!.count == model.layers.count, "one trace per layer")
        let specs = try bitWidths.map { try family.spec(bits: $0) }
        return try model.layers.enumerated().map { index, layer in
            guard let weight = model.graph.constants[layer.weight] else {
                throw QScopeError(file: model.path, "layer '\(layer.name)' has no constant weight")
            }
            let bias = layer.bias.flatMap { model.graph.constants[$0] }
            let candidates = try specs.map { spec -> BitCandidate in
                let quantized: QuantizedWeights
                do {
                    quantized = try spec.quantize(weight: weight, outputAxis: layer.outputAxis, bias: bias, threads: threads)
                } catch let error as QScopeError {
                    throw QScopeError(file: error.file, "layer '\(layer.name)': \(error.message)")
                }
                var error = 0.0
                for (q, w) in zip(quantized.values, weight.values) {
                    let d = Double(q) - Double(w)
                    error += d * d
                }
                return BitCandidate(spec: spec, totalBits: quantized.totalBits, payloadBits: quantized.payloadBits, squaredError: error)
            }
            return LayerCandidates(name: layer.name, parameters: layer.parameterCount,
                                   tracePerParameter: tracesPerParameter?[index], candidates: candidates)
        }
    }

    /// The plan that gives layer i the candidate `choices[i]`.
    public static func plan(_ layers: [LayerCandidates], choices: [Int]) -> Plan {
        Plan(layerNames: layers.map(\.name),
             choices: zip(layers, choices).map { LayerChoice(weights: $0.candidates[$1].spec) })
    }

    /// Total bits (with metadata) of `choices`.
    public static func totalBits(_ layers: [LayerCandidates], choices: [Int]) -> Int {
        zip(layers, choices).reduce(0) { $0 + $1.0.candidates[$1.1].totalBits }
    }

    /// Σ Ω of `choices` (nil when a layer has no trace).
    public static func omega(_ layers: [LayerCandidates], choices: [Int]) -> Double? {
        var sum = 0.0
        for (layer, choice) in zip(layers, choices) {
            guard let omega = layer.omega(choice) else { return nil }
            sum += omega
        }
        return sum
    }
}
