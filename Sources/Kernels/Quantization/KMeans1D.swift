/// Deterministic weighted Lloyd k-means on scalars (SqueezeLLM's per-row codebooks).
///
/// - Init: centroid j is the sorted values' element at index `floor((j + 0.5)·n / k)` (evenly spaced
///   quantiles), so the result is the same on every run (the reference's sklearn k-means++ is seeded;
///   ours needs no random source at all).
/// - Iterate up to `maxIterations` (50, the reference's `max_iter`): assign each value to the nearest
///   centroid (|x − c| in Double, ties to the lower index); stop when no assignment changed; else move
///   each centroid to the weighted mean of its values (Double sums). A cluster with no values or zero
///   total weight keeps its centroid.
/// Values with weight 0 are assigned but do not pull centroids. If all weights are 0 the values are
/// weighted uniformly. Cost O(n·k) per iteration.
public struct KMeans1D: Sendable, Hashable {
    public var clusters: Int
    public var maxIterations: Int

    public init(clusters: Int, maxIterations: Int = 50) {
        precondition(clusters >= 1 && maxIterations >= 1, "bad k-means parameters")
        self.clusters = clusters
        self.maxIterations = maxIterations
    }

    public struct Result: Sendable, Equatable {
        /// `clusters` centroids (Double; non-decreasing because Lloyd keeps 1-D clusters contiguous).
        public var centroids: [Double]
        /// Index of each value's centroid.
        public var assignments: [Int32]
        /// Lloyd iterations run (assignment passes).
        public var iterations: Int
    }

    /// The init centroids for `values` (see the type's doc).
    public func initialCentroids(_ values: UnsafeBufferPointer<Float>) -> [Double] {
        let sorted = values.sorted()
        let n = sorted.count
        return (0..<clusters).map { j in Double(sorted[min(n - 1, Int((Double(j) + 0.5) * Double(n) / Double(clusters)))]) }
    }

    /// Clusters `values` (non-empty) with optional per-value `weights` (≥ 0, same count).
    public func fit(_ values: UnsafeBufferPointer<Float>, weights: UnsafeBufferPointer<Float>? = nil) -> Result {
        precondition(!values.isEmpty, "k-means needs at least one value")
        var useWeights = weights
        if let w = weights, !w.contains(where: { $0 > 0 }) { useWeights = nil }
        var centroids = initialCentroids(values)
        var assignments = [Int32](repeating: -1, count: values.count)
        var sums = [Double](repeating: 0, count: clusters)
        var totals = [Double](repeating: 0, count: clusters)
        var iterations = 0
        while iterations < maxIterations {
            iterations += 1
            var changed = false
            for i in 0..<values.count {
                let x = Double(values[i])
                var best = 0
                var bestDistance = abs(x - centroids[0])
                for j in 1..<clusters {
                    let d = abs(x - centroids[j])
                    if d < bestDistance {
                        bestDistance = d
                        best = j
                    }
                }
                if assignments[i] != Int32(best) {
                    assignments[i] = Int32(best)
                    changed = true
                }
            }
            if !changed { break }
            for j in 0..<clusters {
                sums[j] = 0
                totals[j] = 0
            }
            for i in 0..<values.count {
                let w = useWeights.map { Double($0[i]) } ?? 1
                sums[Int(assignments[i])] += w * Double(values[i])
                totals[Int(assignments[i])] += w
            }
            for j in 0..<clusters where totals[j] > 0 { centroids[j] = sums[j] / totals[j] }
        }
        return Result(centroids: centroids, assignments: assignments, iterations: iterations)
    }
}
