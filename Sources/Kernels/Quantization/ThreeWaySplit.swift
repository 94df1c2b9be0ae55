/// SplitQuant's partition of a set of values into lower, middle and upper parts.
///
/// The centres are the exact optimum of 1-D k-means with k = 3 (the minimum of the within-cluster
/// sum of squares over all splits of the sorted values into three non-empty runs), found by dynamic
/// programming with the divide-and-conquer optimisation (the optimal first cut is monotone in the
/// second cut for 1-D k-means), O(n log n) after sorting. The reference uses scikit-learn's seeded
/// Lloyd, which can stop in a local optimum and varies run to run (no fixed random state); the optimum is
/// deterministic. Masks follow the reference: lower `w ≤ t1`, middle `t1 < w < t2`, upper `w ≥ t2`,
/// with `t1 = (c1 + c2)/2`, `t2 = (c2 + c3)/2`.
public struct ThreeWaySplit: Sendable, Equatable {
    /// Sorted centres c1 ≤ c2 ≤ c3.
    public var centers: (Double, Double, Double)
    public var lowerThreshold: Double { (centers.0 + centers.1) / 2 }
    public var upperThreshold: Double { (centers.1 + centers.2) / 2 }

    public static func == (a: ThreeWaySplit, b: ThreeWaySplit) -> Bool { a.centers == b.centers }

    /// The optimal split of `values`. With fewer than 3 distinct values some centres coincide.
    public init(values: UnsafeBufferPointer<Float>) {
        let x = values.map(Double.init).sorted()
        let n = x.count
        guard n >= 3 else {
            let padded = (x + Array(repeating: x.last ?? 0, count: 3)).prefix(3)
            centers = (padded[0], padded[1], padded[2])
            return
        }
        var s1 = [Double](repeating: 0, count: n + 1)
        var s2 = [Double](repeating: 0, count: n + 1)
        for i in 0..<n {
            s1[i + 1] = s1[i] + x[i]
            s2[i + 1] = s2[i] + x[i] * x[i]
        }
        // Sum of squared deviations of x[i..<j] from their mean.
        func cost(_ i: Int, _ j: Int) -> Double {
            let sum = s1[j] - s1[i]
            return max(s2[j] - s2[i] - sum * sum / Double(j - i), 0)
        }
        // two[j]: best cost of x[0..<j] in two runs (j = 2 … n−1), cut[j] its first cut.
        var two = [Double](repeating: .infinity, count: n)
        var cut = [Int](repeating: 1, count: n)
        func solve(_ lo: Int, _ hi: Int, _ optLo: Int, _ optHi: Int) {
            if lo > hi { return }
            let j = (lo + hi) / 2
            var best = Double.infinity
            var bestCut = optLo
            for i in optLo...min(optHi, j - 1) {
                let c = cost(0, i) + cost(i, j)
                if c < best {
                    best = c
                    bestCut = i
                }
            }
            two[j] = best
            cut[j] = bestCut
            solve(lo, j - 1, optLo, bestCut)
            solve(j + 1, hi, bestCut, optHi)
        }
        solve(2, n - 1, 1, n - 2)
        var best = Double.infinity
        var second = 2
        for j in 2...(n - 1) {
            let c = two[j] + cost(j, n)
            if c < best {
                best = c
                second = j
            }
        }
        let first = cut[second]
        func mean(_ i: Int, _ j: Int) -> Double { (s1[j] - s1[i]) / Double(j - i) }
        centers = (mean(0, first), mean(first, second), mean(second, n))
    }

    /// Which part (0 lower, 1 middle, 2 upper) a value belongs to.
    @inline(__always)
    public func part(of w: Float) -> Int {
        let x = Double(w)
        if x <= lowerThreshold { return 0 }
        return x < upperThreshold ? 1 : 2
    }
}
