import Testing
import Kernels

/// The tangent-pass kernels against naive loops in Double.
@Suite("Probe arithmetic and small products")
struct ProbeKernelTests {
    /// Counts cover the 16-lane body, the scalar tail and several 16K-element tasks; one and two
    /// probes and threads; every coefficient kind in both term positions.
    @Test(arguments: [(1, 1, 1), (17, 2, 2), (40_000, 3, 2), (16_384, 1, 2)])
    func probeTermsMatchNaiveSums(_ count: Int, _ probes: Int, _ threads: Int) {
        var rng = TestRNG(seed: UInt64(count * 31 + probes))
        let c1 = rng.floats(count), c2 = rng.floats(count)
        let x1 = rng.floats(count * probes), x2 = rng.floats(count * probes)
        let start = rng.floats(count * probes)
        for kinds in [(false, false), (true, false), (false, true), (true, true)] {
            for twoTerms in [false, true] {
                var out = start
                c1.withUnsafeBufferPointer { c1p in c2.withUnsafeBufferPointer { c2p in
                    x1.withUnsafeBufferPointer { x1p in x2.withUnsafeBufferPointer { x2p in
                        out.withUnsafeMutableBufferPointer { o in
                            let first = ProbeTerm(kinds.0 ? .elementwise(c1p.baseAddress!) : .scalar(0.75), x1p.baseAddress!)
                            let second = ProbeTerm(kinds.1 ? .elementwise(c2p.baseAddress!) : .scalar(-1.5), x2p.baseAddress!)
                            accumulateProbeTerms(o.baseAddress!, first, twoTerms ? second : nil, count: count, probes: probes,
                                                 threads: threads)
                        }
                    } }
                } }
                for p in 0..<probes {
                    for i in 0..<count {
                        let e = p * count + i
                        var want = Double(start[e]) + Double(kinds.0 ? c1[i] : 0.75) * Double(x1[e])
                        if twoTerms { want += Double(kinds.1 ? c2[i] : -1.5) * Double(x2[e]) }
                        // Two FMAs on values of magnitude <= ~4: a few float32 ulps.
                        #expect(abs(Double(out[e]) - want) <= 4e-6, "kinds \(kinds) terms \(twoTerms ? 2 : 1) at \(e)")
                    }
                }
            }
        }
    }

    /// Attention-sized and odd shapes, both transposes, against a Double reference. Remainder
    /// columns done one at a time with and without whole 16-row blocks ((17, 17, 16), (16, 17, 17),
    /// (33, 18, 16), (5, 33, 3), (32, 1, 4)), on padded copies ((5, 21, 7), (3, 12, 2)), none
    /// ((17, 16, 17), (7, 48, 9)); the large case takes the sgemm path.
    @Test(arguments: [(17, 17, 16), (17, 16, 17), (16, 17, 17), (17, 17, 17), (33, 18, 16), (32, 1, 4), (5, 21, 7),
                      (3, 12, 2), (1, 1, 1), (5, 33, 3), (7, 48, 9), (70, 70, 70)])
    func smallProductMatchesReference(_ m: Int, _ n: Int, _ k: Int) {
        var rng = TestRNG(seed: UInt64(m * 10_000 + n * 100 + k))
        let a = rng.floats(m * k), b = rng.floats(k * n), c0 = rng.floats(m * n)
        for transA in [false, true] {
            for transB in [false, true] {
                var c = c0
                a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                    smallProductAccumulate(m: m, n: n, k: k, a: ap.baseAddress!, transA: transA, b: bp.baseAddress!,
                                           transB: transB, c: cp.baseAddress!)
                } } }
                for i in 0..<m {
                    for j in 0..<n {
                        var want = Double(c0[i * n + j])
                        for p in 0..<k {
                            let av = transA ? a[p * m + i] : a[i * k + p]
                            let bv = transB ? b[j * k + p] : b[p * n + j]
                            want += Double(av) * Double(bv)
                        }
                        // k float32 FMAs of terms <= 1 in magnitude.
                        #expect(abs(Double(c[i * n + j]) - want) <= 1e-6 * Double(k + 1), "(\(i), \(j)) transA \(transA) transB \(transB)")
                    }
                }
            }
        }
    }

    /// The ReLU-masked copy: out of place and in place, with positive, negative, zero, -0 and NaN
    /// mask entries, over the 16-lane body, the tail and several tasks. Exact: each element is the
    /// source element or +0.
    @Test(arguments: [(1, 1, 1), (33, 2, 2), (40_000, 3, 2)])
    func reluMaskedCopyIsExact(_ count: Int, _ probes: Int, _ threads: Int) {
        var rng = TestRNG(seed: UInt64(count * 7 + probes))
        var mask = rng.floats(count)
        for i in stride(from: 0, to: count, by: 5) { mask[i] = [0, -0.0, .nan, 1e-30, -1e-30][(i / 5) % 5] }
        let source = rng.floats(count * probes)
        func expected(_ e: Int) -> Float { mask[e % count] > 0 ? source[e] : 0 }
        var out = [Float](repeating: .nan, count: count * probes)
        mask.withUnsafeBufferPointer { m in source.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { o in
            copyWherePositive(s.baseAddress!, mask: m.baseAddress!, into: o.baseAddress!, count: count, probes: probes,
                              threads: threads)
        } } }
        var inPlace = source
        mask.withUnsafeBufferPointer { m in inPlace.withUnsafeMutableBufferPointer { o in
            copyWherePositive(o.baseAddress!, mask: m.baseAddress!, into: o.baseAddress!, count: count, probes: probes,
                              threads: threads)
        } }
        for e in 0..<(count * probes) {
            #expect(out[e].bitPattern == expected(e).bitPattern, "out of place at \(e)")
            #expect(inPlace[e].bitPattern == expected(e).bitPattern, "in place at \(e)")
        }
    }

    /// Runs of lengths 0 (none), 1, 15, 16, 17 and 40 (vector bodies and scalar tails), two of
    /// them overlapping in the indexed buffer: the gather and both scatters against per-element
    /// loops. Exact: copies, and additions in the same order as the loop's.
    @Test func runCopiesMatchElementLoops() {
        var rng = TestRNG(seed: 77)
        let starts: [Int32] = [3, 90, 20, 200, 0, 25, 150]
        let lengths: [Int32] = [1, 15, 16, 17, 40, 16, 0]
        let total = lengths.reduce(0) { $0 + Int($1) }
        let source = rng.floats(260), values = rng.floats(total), base = rng.floats(260)
        var map: [Int] = []
        for (s, l) in zip(starts, lengths) { map += (0..<Int(l)).map { Int(s) + $0 } }
        var gathered = [Float](repeating: .nan, count: total)
        var added = base, stored = base
        source.withUnsafeBufferPointer { src in values.withUnsafeBufferPointer { v in
            starts.withUnsafeBufferPointer { st in lengths.withUnsafeBufferPointer { le in
                gathered.withUnsafeMutableBufferPointer { g in
                    gatherRuns(src.baseAddress!, starts: st.baseAddress!, lengths: le.baseAddress!, runs: st.count, into: g.baseAddress!)
                }
                added.withUnsafeMutableBufferPointer { t in
                    scatterRuns(v.baseAddress!, starts: st.baseAddress!, lengths: le.baseAddress!, runs: st.count,
                                into: t.baseAddress!, accumulate: true)
                }
                stored.withUnsafeMutableBufferPointer { t in
                    scatterRuns(v.baseAddress!, starts: st.baseAddress!, lengths: le.baseAddress!, runs: st.count,
                                into: t.baseAddress!, accumulate: false)
                }
            } }
        } }
        var wantAdded = base, wantStored = base
        for (i, target) in map.enumerated() {
            #expect(gathered[i].bitPattern == source[target].bitPattern, "gather at \(i)")
            wantAdded[target] += values[i]
            wantStored[target] = values[i]
        }
        #expect(added.map(\.bitPattern) == wantAdded.map(\.bitPattern))
        #expect(stored.map(\.bitPattern) == wantStored.map(\.bitPattern))
    }
}
