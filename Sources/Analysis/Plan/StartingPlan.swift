import Executor

extension Plan {
    /// The plan a model opens with: a layer the file stores quantized (`QuantizableLayer.stored`)
    /// keeps its stored format ("int8 (stored)", `QuantizerSpec.stored`), every other layer FP32.
    /// For a float model this is the all-float plan.
    public init(startingFrom model: Model) {
        self.init(layerNames: model.layers.map(\.name),
                  choices: model.layers.map { LayerChoice(weights: $0.stored.map(QuantizerSpec.stored)) })
    }
}

extension QuantizableLayer {
    /// Fails, naming the layer, when `spec` cannot apply to it: a `stored:TYPE` spec on a layer the
    /// file does not store quantized in that format (there are no stored codes to keep).
    public func check(_ spec: QuantizerSpec) throws {
        guard spec.isStored else { return }
        guard let stored else {
            throw QScopeError("layer '\(name)': \(spec) keeps stored codes, but the model stores this layer's weight in float")
        }
        guard spec.matches(stored) else {
            throw QScopeError("layer '\(name)': \(spec) does not match how the model stores it (\(QuantizerSpec.stored(stored)), \(stored.summary))")
        }
    }
}
