import Executor
import Testing
import Analysis
import Kernels

/// The exact 3-means of `ThreeWaySplit` (the clustering `OutlierClusters` and SplitQuant share)
/// against exhaustive search over all pairs of cut points, and the outlier counts against direct
/// definitions.
@Suite("outlier clusters")
struct OutlierClustersTests {
    /// Minimum within-cluster sum of squares over all splits of the sorted values into three
    /// non-empty runs, and the centres of an optimal split (O(n³), independent of the DP).
    static func bruteForce(_ values: [Float]) -> (cost: Double, centers: [Double]) {
        let x = values.map(Double.init).sorted()
        let n = x.count
        func cost(_ run: ArraySlice<Double>) -> Double {
            let mean = run.reduce(0, +) / Double(run.count)
            return run.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        }
        var best = (Double.infinity, [Double]())
        for i in 1..<(n - 1) {
            for j in (i + 1)..<n {
                let parts = [x[0..<i], x[i..<j], x[j..<n]]
                let c = parts.map(cost).reduce(0, +)
                if c < best.0 { best = (c, parts.map { $0.reduce(0, +) / Double($0.count) }) }
            }
        }
        return best
    }

    static func withinCost(_ values: [Float], _ centers: [Double]) -> Double {
        // Cost of the runs the centres define (each value to its nearest centre = contiguous runs).
        values.reduce(0) { total, v in total + centers.map { (Double(v) - $0) * (Double(v) - $0) }.min()! }
    }

    @Test(arguments: [3, 4, 5, 7, 12, 25, 40])
    func dynamicProgramEqualsExhaustiveSearch(_ n: Int) {
        var seed: UInt64 = UInt64(n) * 977
        func random() -> Float {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Double(seed >> 11) / Double(1 << 53))
        }
        for trial in 0..<20 {
            // Mixtures with outliers, and coarse values with ties on odd trials.
            var values = (0..<n).map { _ in (random() - 0.5) * 0.2 }
            if n > 4 { values[0] = 3 + random(); values[1] = -2 - random() }
            if trial % 2 == 1 { values = values.map { ($0 * 8).rounded() / 8 } }
            let reference = Self.bruteForce(values)
            let split = values.withUnsafeBufferPointer { ThreeWaySplit(values: $0) }
            let centers = [split.centers.0, split.centers.1, split.centers.2]
            // Same optimum cost (centres may differ only between equally good splits).
            #expect(abs(Self.withinCost(values, centers) - reference.cost) <= 1e-9 * max(1, reference.cost), "n \(n) trial \(trial)")
            if trial % 2 == 0 {
                for (a, b) in zip(centers, reference.centers) { #expect(abs(a - b) <= 1e-9, "n \(n) trial \(trial)") }
            }
            let clusters = values.withUnsafeBufferPointer { OutlierClusters(name: "t", values: $0) }
            #expect(clusters.clusters.map(\.center) == centers)
            #expect(clusters.clusters.map(\.count).reduce(0, +) == n)
            // Membership by the SplitQuant masks, ranges inside the boundaries.
            for (part, cluster) in clusters.clusters.enumerated() {
                let members = values.filter { split.part(of: $0) == part }
                #expect(cluster.count == members.count)
                if let lo = members.min(), let hi = members.max() {
                    #expect(cluster.minimum == Double(lo) && cluster.maximum == Double(hi))
                }
            }
        }
    }

    @Test func outlierCountsFollowTheirDefinitions() {
        // 1…100 plus two far values: quartiles by linear interpolation (NumPy's default).
        let values: [Float] = (1...100).map(Float.init) + [1000, -500]
        let c = values.withUnsafeBufferPointer { OutlierClusters(name: "t", values: $0) }
        let sorted = values.map(Double.init).sorted()
        let q1 = sorted[25] + (sorted[26] - sorted[25]) * 0.25  // position 0.25·101 = 25.25
        let q3 = sorted[75] + (sorted[76] - sorted[75]) * 0.75  // position 75.75
        #expect(c.firstQuartile == q1 && c.thirdQuartile == q3)
        #expect(c.iqrOutliers == 2)
        let mean = sorted.reduce(0, +) / 102
        let sigma = (sorted.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 102).squareRoot()
        #expect(c.sigmaOutliers == sorted.filter { abs($0 - mean) > 3 * sigma }.count)
        #expect(c.sigmaOutliers == 2)  // σ ≈ 112 around a mean of 54.4: both far values are beyond 3σ
        #expect(c.clusters[0].center == -500 && c.clusters[2].center == 1000 && c.clusters[1].count == 100)
        let empty = [Float]().withUnsafeBufferPointer { OutlierClusters(name: "e", values: $0) }
        #expect(empty.count == 0 && empty.iqrOutliers == 0)
    }
}
