import Executor
/// The cost and error of one layer under one weight choice (what the Layers table shows).
public struct LayerQuantization: Hashable, Sendable {
    /// Number of weights.
    public var parameters: Int
    /// Bits of the codes alone (32 per weight for float).
    public var payloadBits: Int
    /// Bits including every piece of metadata (scales, zero points, codebooks...; the "Size accounting" section of the quantization methods page in docs/).
    public var totalBits: Int
    /// 10 log10(‖W‖² / ‖W − Q(W)‖²) in dB; +inf for float or exact quantization.
    public var sqnrDB: Double
    /// The distinct dequantized values of the widest output channel, ascending (the grid the
    /// detail pane draws over the histogram); empty for float or when there are more than
    /// `LayerQuantization.maxGridLevels` levels (too fine to draw).
    public var gridLevels: [Float]

    /// Whether a `lut` codebook's k-means was weighted by the Fisher diagonal (false otherwise).
    public var fisherWeighted: Bool

    public static let maxGridLevels = 512

    public init(parameters: Int, payloadBits: Int, totalBits: Int, sqnrDB: Double, gridLevels: [Float],
                fisherWeighted: Bool = false) {
        self.parameters = parameters
        self.payloadBits = payloadBits
        self.totalBits = totalBits
        self.sqnrDB = sqnrDB
        self.gridLevels = gridLevels
        self.fisherWeighted = fisherWeighted
    }

    /// A float layer: 32 bits per weight, no metadata, no error.
    public static func float(parameters: Int) -> LayerQuantization {
        LayerQuantization(parameters: parameters, payloadBits: 32 * parameters, totalBits: 32 * parameters,
                          sqnrDB: .infinity, gridLevels: [])
    }
}

/// Model size under a plan, over the quantizable layers' weights (biases and other constants stay
/// FP32 and are not counted). MB are 2^20 bytes (the "Size accounting" section of the quantization methods page in docs/).
public struct PlanSize: Hashable, Sendable {
    public var parameters: Int
    public var payloadBits: Int
    public var totalBits: Int

    public init(_ layers: [LayerQuantization]) {
        parameters = layers.reduce(0) { $0 + $1.parameters }
        payloadBits = layers.reduce(0) { $0 + $1.payloadBits }
        totalBits = layers.reduce(0) { $0 + $1.totalBits }
    }

    public init(parameters: Int, payloadBits: Int, totalBits: Int) {
        self.parameters = parameters
        self.payloadBits = payloadBits
        self.totalBits = totalBits
    }

    /// Weights only, in MB (2^20 bytes).
    public var payloadMB: Double { Double(payloadBits) / 8 / 1_048_576 }
    /// With all metadata, in MB.
    public var totalMB: Double { Double(totalBits) / 8 / 1_048_576 }
    /// Average code bits per weight (weights only).
    public var averagePayloadBits: Double { parameters > 0 ? Double(payloadBits) / Double(parameters) : 0 }
    /// Average bits per weight including metadata.
    public var averageTotalBits: Double { parameters > 0 ? Double(totalBits) / Double(parameters) : 0 }
}
