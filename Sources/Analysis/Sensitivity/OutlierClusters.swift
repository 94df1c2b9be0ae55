import Executor
import Kernels

/// The outlier structure of one quantizable layer's weight tensor.
///
/// Clusters: the exact optimum of 1-D k-means with k = 3 over all the tensor's values
/// (`ThreeWaySplit`: dynamic program on the sorted values, deterministic), the clustering SplitQuant
/// splits on. Membership follows SplitQuant's masks: lower `w ≤ t1`, middle
/// `t1 < w < t2`, upper `w ≥ t2` with `t1 = (c1 + c2)/2`, `t2 = (c2 + c3)/2`. Note that SplitQuant
/// clusters a Conv weight per output kernel; this view clusters the whole tensor (what the weight
/// histogram shows).
///
/// Outlier counts: IQR rule, values outside `[q1 − 1.5·IQR, q3 + 1.5·IQR]` with the quartiles by
/// linear interpolation between order statistics (NumPy's default `percentile`, position
/// `p·(n − 1)`); k·σ rule with k = `sigmaMultiple` (3), values with `|w − mean| > 3·σ` (population σ).
public struct OutlierClusters: Sendable, Equatable {
    /// One of the three clusters.
    public struct Cluster: Sendable, Equatable {
        /// The k-means centre (mean of the DP's run of sorted values).
        public var center: Double
        /// Values in the cluster by the threshold masks.
        public var count: Int
        /// Smallest and largest member; both equal `center` when the cluster has no member (possible
        /// only with ties or fewer than three distinct values).
        public var minimum: Double
        public var maximum: Double

        public init(center: Double, count: Int, minimum: Double, maximum: Double) {
            self.center = center
            self.count = count
            self.minimum = minimum
            self.maximum = maximum
        }
    }

    /// The multiple of σ beyond which a value counts as an outlier in `sigmaOutliers`.
    public static let sigmaMultiple = 3.0
    /// The multiple of the interquartile range used by `iqrOutliers`.
    public static let iqrMultiple = 1.5

    /// The layer's name (`QuantizableLayer.name`).
    public var name: String
    /// Number of weight values.
    public var count: Int
    /// Lower, middle and upper cluster (centres ascending).
    public var clusters: [Cluster]
    /// The boundaries t1 = (c1 + c2)/2 and t2 = (c2 + c3)/2.
    public var lowerBoundary: Double
    public var upperBoundary: Double
    public var mean: Double
    /// Population standard deviation.
    public var standardDeviation: Double
    /// First and third quartile.
    public var firstQuartile: Double
    public var thirdQuartile: Double
    /// Values outside `[q1 − 1.5·IQR, q3 + 1.5·IQR]`.
    public var iqrOutliers: Int
    /// Values with `|w − mean| > 3·σ`.
    public var sigmaOutliers: Int

    public init(name: String, count: Int, clusters: [Cluster], lowerBoundary: Double, upperBoundary: Double, mean: Double,
                standardDeviation: Double, firstQuartile: Double, thirdQuartile: Double, iqrOutliers: Int, sigmaOutliers: Int) {
        self.name = name
        self.count = count
        self.clusters = clusters
        self.lowerBoundary = lowerBoundary
        self.upperBoundary = upperBoundary
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.firstQuartile = firstQuartile
        self.thirdQuartile = thirdQuartile
        self.iqrOutliers = iqrOutliers
        self.sigmaOutliers = sigmaOutliers
    }

    /// The IQR fences `[q1 − 1.5·IQR, q3 + 1.5·IQR]`.
    public var iqrFences: ClosedRange<Double> {
        let iqr = thirdQuartile - firstQuartile
        return (firstQuartile - Self.iqrMultiple * iqr)...(thirdQuartile + Self.iqrMultiple * iqr)
    }

    /// The clusters and outlier counts of `values` (NaN values are ignored; an empty input gives
    /// zero counts and centres 0).
    public init(name: String, values: UnsafeBufferPointer<Float>) {
        let finite = values.filter { !$0.isNaN }
        let sorted = finite.map(Double.init).sorted()
        let n = sorted.count
        self.name = name
        self.count = n
        guard n > 0 else {
            clusters = Array(repeating: Cluster(center: 0, count: 0, minimum: 0, maximum: 0), count: 3)
            (lowerBoundary, upperBoundary, mean, standardDeviation) = (0, 0, 0, 0)
            (firstQuartile, thirdQuartile, iqrOutliers, sigmaOutliers) = (0, 0, 0, 0)
            return
        }
        let split = finite.withUnsafeBufferPointer { ThreeWaySplit(values: $0) }
        let centers = [split.centers.0, split.centers.1, split.centers.2]
        var counts = [0, 0, 0]
        var lows = centers, highs = centers
        for w in finite {
            let part = split.part(of: w)
            let x = Double(w)
            if counts[part] == 0 {
                lows[part] = x
                highs[part] = x
            } else {
                lows[part] = min(lows[part], x)
                highs[part] = max(highs[part], x)
            }
            counts[part] += 1
        }
        clusters = (0..<3).map { Cluster(center: centers[$0], count: counts[$0], minimum: lows[$0], maximum: highs[$0]) }
        lowerBoundary = split.lowerThreshold
        upperBoundary = split.upperThreshold

        var sum = 0.0
        for x in sorted { sum += x }
        let mu = sum / Double(n)
        var squares = 0.0
        for x in sorted { squares += (x - mu) * (x - mu) }
        let sigma = (squares / Double(n)).squareRoot()
        mean = mu
        standardDeviation = sigma

        func quantile(_ p: Double) -> Double {
            let position = p * Double(n - 1)
            let below = Int(position.rounded(.down))
            let above = min(below + 1, n - 1)
            let fraction = position - Double(below)
            return sorted[below] + (sorted[above] - sorted[below]) * fraction
        }
        firstQuartile = quantile(0.25)
        thirdQuartile = quantile(0.75)
        let iqr = thirdQuartile - firstQuartile
        let (lowFence, highFence) = (firstQuartile - Self.iqrMultiple * iqr, thirdQuartile + Self.iqrMultiple * iqr)
        iqrOutliers = sorted.reduce(0) { $0 + ($1 < lowFence || $1 > highFence ? 1 : 0) }
        let limit = Self.sigmaMultiple * sigma
        sigmaOutliers = sorted.reduce(0) { $0 + (abs($1 - mu) > limit ? 1 : 0) }
    }

    /// The clusters of every quantizable layer's weight (model order), each handed to `progress` as
    /// soon as it is done. A layer whose weight is not a constant of the graph is an error naming it;
    /// `isCancelled` is checked between layers (throws `CancellationError`).
    public static func compute(model: Model, progress: ((Int, OutlierClusters) -> Void)? = nil,
                               isCancelled: () -> Bool = { false }) throws -> [OutlierClusters] {
        var all: [OutlierClusters] = []
        for (l, layer) in model.layers.enumerated() {
            if isCancelled() { throw CancellationError() }
            guard let weight = model.graph.constants[layer.weight] else {
                throw QScopeError(file: model.path, "layer \(layer.name) has no constant weight")
            }
            let clusters = weight.values.withUnsafeBufferPointer { OutlierClusters(name: layer.name, values: $0) }
            all.append(clusters)
            progress?(l, clusters)
        }
        return all
    }
}
