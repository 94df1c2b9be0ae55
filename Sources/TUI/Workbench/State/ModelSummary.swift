import Analysis
import Executor

/// What the screen needs to know about the model, computed once at start-up (no weights kept).
public struct ModelSummary: Hashable, Sendable {
    public struct Layer: Hashable, Sendable {
        public var name: String
        public var opType: String
        public var parameters: Int
        public var weightShape: [Int]
        public var outputAxis: Int
        public var weights: WeightSummary

        public init(name: String, opType: String, parameters: Int, weightShape: [Int], outputAxis: Int, weights: WeightSummary) {
            self.name = name
            self.opType = opType
            self.parameters = parameters
            self.weightShape = weightShape
            self.outputAxis = outputAxis
            self.weights = weights
        }
    }

    /// The model path as the user gave it.
    public var path: String
    /// The evaluation data path and sample count.
    public var dataPath: String
    public var samples: Int
    public var layers: [Layer]

    public init(path: String, dataPath: String, samples: Int, layers: [Layer]) {
        self.path = path
        self.dataPath = dataPath
        self.samples = samples
        self.layers = layers
    }

    /// Summarises a loaded model's quantizable layers.
    public init(model: Model, dataPath: String, samples: Int) {
        self.init(path: model.path, dataPath: dataPath, samples: samples, layers: model.layers.map { layer in
            let values = model.graph.constants[layer.weight]?.values ?? []
            return Layer(name: layer.name, opType: layer.opType, parameters: layer.parameterCount,
                         weightShape: layer.weightShape, outputAxis: layer.outputAxis,
                         weights: WeightSummary(values: values, shape: layer.weightShape, outputAxis: layer.outputAxis))
        })
    }

    public var layerNames: [String] { layers.map(\.name) }
}
