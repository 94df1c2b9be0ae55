import Executor
/// The results of a sensitivity analysis; a part that was not requested (or not reached before a
/// cancellation) is nil.
public struct SensitivityReport: Sendable, Equatable {
    public var outliers: [OutlierClusters]?
    public var activations: [ActivationStatistics]?
    public var hessian: HessianReport?
    public var eigenvalues: [LayerEigenvalue]?
    public var accuracy: [LayerAccuracy]?
    /// Wall time of each part that ran, seconds.
    public var partSeconds: [SensitivityPart: Double]
    /// Wall time of the whole analysis, seconds.
    public var seconds: Double
    /// Samples the activation statistics were taken on.
    public var calibrationSamples: Int
    /// Samples the accuracies were measured on.
    public var evaluationSamples: Int
    /// True when the analysis was cancelled before every requested part finished.
    public var cancelled: Bool

    public init(outliers: [OutlierClusters]? = nil, activations: [ActivationStatistics]? = nil, hessian: HessianReport? = nil,
                eigenvalues: [LayerEigenvalue]? = nil, accuracy: [LayerAccuracy]? = nil, partSeconds: [SensitivityPart: Double] = [:],
                seconds: Double = 0, calibrationSamples: Int = 0, evaluationSamples: Int = 0, cancelled: Bool = false) {
        self.outliers = outliers
        self.activations = activations
        self.hessian = hessian
        self.eigenvalues = eigenvalues
        self.accuracy = accuracy
        self.partSeconds = partSeconds
        self.seconds = seconds
        self.calibrationSamples = calibrationSamples
        self.evaluationSamples = evaluationSamples
        self.cancelled = cancelled
    }
}
