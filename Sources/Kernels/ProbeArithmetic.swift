/// Elementwise sums of products over probe-major tensors, for the tangent passes of reverse mode.
///
/// A tangent pass carries P directions ("probes") at once: a tangent tensor holds P copies of a
/// value, probe-major (`x[p * count + i]`). Elementwise derivative rules multiply those copies by
/// factors that depend on the primal values only (f'(x), the other operand of a product, ...),
/// the same for every probe. `accumulateProbeTerms` does
///
///     out[p][i] += c1[i] · x1[p][i]  (+ c2[i] · x2[p][i])      for p < probes, i < count
///
/// with each coefficient either a per-element array (`count` floats, shared by all probes) or one
/// scalar, vectorised 16 lanes wide and split over threads by (probe, block of elements).
/// Rounding: one FMA per term, in term order (c1·x1 first), like the scalar loops it replaces.

/// The factor of one term: the same for all probes.
public enum ProbeCoefficient {
    /// One value for every element.
    case scalar(Float)
    /// `count` values, one per element.
    case elementwise(UnsafePointer<Float>)
}

/// `coefficient · source`, with `source` probe-major (`probes` copies of `count` floats).
public struct ProbeTerm {
    public var coefficient: ProbeCoefficient
    public var source: UnsafePointer<Float>

    public init(_ coefficient: ProbeCoefficient, _ source: UnsafePointer<Float>) {
        self.coefficient = coefficient
        self.source = source
    }
}

/// Elements per task: large enough that a task's start-up cost is noise, small enough that two
/// threads share a single-probe pass.
private let probeBlock = 1 << 14

/// Runs `body(p, lo, hi)` over every probe `p < probes` and block `lo..<hi` of `probeBlock`
/// elements of `0..<count`, split over up to `threads` threads (one thread below 32 Ki elements in
/// all, where a second thread's start-up costs more than it saves).
@inline(__always)
private func forEachProbeBlock(count: Int, probes: Int, threads: Int, _ body: (Int, Int, Int) -> Void) {
    let blocks = (count + probeBlock - 1) / probeBlock
    let tasks = blocks * probes
    let workers = max(1, min(threads, tasks, (count * probes) >> 15))
    Parallel.forEach(tasks, threads: workers) { task in
        let lo = (task % blocks) * probeBlock
        body(task / blocks, lo, min(count, lo + probeBlock))
    }
}

/// `out[p][i] += Σ_terms c[i] · x[p][i]` (see the file comment). `out` must not overlap the sources
/// or the coefficients; zero terms or `count == 0` do nothing.
public func accumulateProbeTerms(
    _ out: UnsafeMutablePointer<Float>, _ first: ProbeTerm, _ second: ProbeTerm? = nil,
    count: Int, probes: Int, threads: Int
) {
    guard count > 0, probes > 0 else { return }
    forEachProbeBlock(count: count, probes: probes, threads: threads) { p, lo, hi in
        let o = out + p * count
        let x1 = first.source + p * count
        guard let second else {
            switch first.coefficient {
            case .scalar(let s): runTerms(o, ScalarCoefficient(s), x1, ScalarCoefficient(0), nil, lo, hi)
            case .elementwise(let c): runTerms(o, ArrayCoefficient(c), x1, ScalarCoefficient(0), nil, lo, hi)
            }
            return
        }
        let x2 = second.source + p * count
        switch (first.coefficient, second.coefficient) {
        case (.scalar(let s), .scalar(let t)): runTerms(o, ScalarCoefficient(s), x1, ScalarCoefficient(t), x2, lo, hi)
        case (.scalar(let s), .elementwise(let c)): runTerms(o, ScalarCoefficient(s), x1, ArrayCoefficient(c), x2, lo, hi)
        case (.elementwise(let c), .scalar(let t)): runTerms(o, ArrayCoefficient(c), x1, ScalarCoefficient(t), x2, lo, hi)
        case (.elementwise(let c), .elementwise(let d)): runTerms(o, ArrayCoefficient(c), x1, ArrayCoefficient(d), x2, lo, hi)
        }
    }
}

/// Lanes `i..<i+16` (vector) or element `i` (scalar) of a coefficient.
private protocol CoefficientSource {
    func vector(_ i: Int) -> SIMD16<Float>
    func scalar(_ i: Int) -> Float
}

private struct ScalarCoefficient: CoefficientSource {
    let value: Float
    init(_ value: Float) { self.value = value }
    @inline(__always) func vector(_ i: Int) -> SIMD16<Float> { SIMD16(repeating: value) }
    @inline(__always) func scalar(_ i: Int) -> Float { value }
}

private struct ArrayCoefficient: CoefficientSource {
    let base: UnsafePointer<Float>
    init(_ base: UnsafePointer<Float>) { self.base = base }
    @inline(__always) func vector(_ i: Int) -> SIMD16<Float> {
        loadLanes(base + i)
    }
    @inline(__always) func scalar(_ i: Int) -> Float { base[i] }
}

/// Elements `lo..<hi` of one probe: `o[i] += c1[i]·x1[i] (+ c2[i]·x2[i] when x2 is given)`.
@inline(__always)
private func runTerms<C1: CoefficientSource, C2: CoefficientSource>(
    _ o: UnsafeMutablePointer<Float>, _ c1: C1, _ x1: UnsafePointer<Float>, _ c2: C2, _ x2: UnsafePointer<Float>?,
    _ lo: Int, _ hi: Int
) {
    var i = lo
    if let x2 {
        while i + 16 <= hi {
            var v = loadLanes(o + i)
            v.addProduct(c1.vector(i), loadLanes(x1 + i))
            v.addProduct(c2.vector(i), loadLanes(x2 + i))
            storeLanes(v, o + i)
            i += 16
        }
        while i < hi {
            var v = o[i]
            v.addProduct(c1.scalar(i), x1[i])
            v.addProduct(c2.scalar(i), x2[i])
            o[i] = v
            i += 1
        }
    } else {
        while i + 16 <= hi {
            var v = loadLanes(o + i)
            v.addProduct(c1.vector(i), loadLanes(x1 + i))
            storeLanes(v, o + i)
            i += 16
        }
        while i < hi {
            o[i].addProduct(c1.scalar(i), x1[i])
            i += 1
        }
    }
}

/// `out[p][i] = source[p][i]` where `mask[i] > 0`, else +0, for p < probes, i < count: a ReLU's
/// derivative (mask: its output, the same for every probe) applied to probe-major copies in one
/// pass instead of a copy and a masking pass. `out` may be `source` (masked in place) but must not
/// overlap it otherwise, nor `mask`. A NaN mask entry masks (like `!(y > 0)`). Exact: every element
/// is either copied or zero, vectorised 16 lanes wide and split over threads like
/// `accumulateProbeTerms`.
public func copyWherePositive(
    _ source: UnsafePointer<Float>, mask: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
    count: Int, probes: Int, threads: Int
) {
    guard count > 0, probes > 0 else { return }
    forEachProbeBlock(count: count, probes: probes, threads: threads) { p, lo, hi in
        let s = source + p * count, o = out + p * count
        var i = lo
        while i + 16 <= hi {
            let kept = loadLanes(mask + i) .> 0
            storeLanes(SIMD16<Float>(repeating: 0).replacing(with: loadLanes(s + i), where: kept), o + i)
            i += 16
        }
        while i < hi {
            o[i] = mask[i] > 0 ? s[i] : 0
            i += 1
        }
    }
}
