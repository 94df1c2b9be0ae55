import Kernels

// Reverse mode and forward-over-reverse (Pearlmutter R-op) for compiled operators.
//
// Every run-time value `x` of a pass has, besides its primal buffer, up to three derived buffers:
//   - its adjoint `x̄ = ∂L/∂x` (as many floats as `x`),
//   - its tangent `ẋ = (∂x/∂θ)·v` for P weight directions v at once (P copies of `x`, probe-major),
//   - the tangent of its adjoint, `d x̄ = (∂x̄/∂θ)·v` (P copies), whose restriction to the weights
//     is the Hessian-vector product Hv.
// A rule gets all of them for one step; absent (nil) tangents are zero. Rules accumulate (`+=`)
// into every buffer they write; the engine zeroes them before a pass, except where a rule says it
// writes a buffer in full (`overwritesOutputTangent`, `overwritesUnwrittenInputTangentGrad`).
// A step's outputs' tangent adjoints are complete when its `tangentBackward` runs and nothing reads
// them afterwards, so a rule may use them as scratch (Conv masks them in place).

/// Buffers of one step in reverse mode (see the file comment).
struct DerivativeIO {
    let probes: Int
    let inputs: [UnsafePointer<Float>?]
    let outputs: [UnsafePointer<Float>]
    let inputGrads: [UnsafeMutablePointer<Float>?]
    let outputGrads: [UnsafePointer<Float>?]
    let inputTangents: [UnsafePointer<Float>?]
    let outputTangents: [UnsafeMutablePointer<Float>?]
    var inputTangentGrads: [UnsafeMutablePointer<Float>?]
    let outputTangentGrads: [UnsafePointer<Float>?]
    let threads: Int
    /// Quadratic-form mode (see `DerivativeRule.quadraticFormWeight`): `probes` sums to which the rule
    /// adds vᵀ(Hv) restricted to its weight; nil otherwise. Its weight's tangent adjoint is then not wanted.
    var quadraticForms: UnsafeMutablePointer<Double>? = nil
    /// Quadratic-form mode: `probes` copies of the step's output kept from `tangent` to
    /// `tangentBackward` for the rule's own use (uninitialised on `tangent`); twice that many with
    /// `inputPairing`.
    var retained: UnsafeMutablePointer<Float>? = nil
    /// Pairing mode (see `DerivativeRule.completesInputPairing`): the `probes` quadratic-form sums of
    /// the layer that produced input 0, to which this rule adds ⟨ā̇, ȧ⟩ (ȧ: input 0's tangent, ā̇: its
    /// tangent adjoint). ā̇ is then not formed: `inputTangentGrads[0]` is nil.
    var inputPairing: UnsafeMutablePointer<Double>? = nil
    /// Input 0's tangent adjoint has not been written yet in this pass and holds garbage, not zeros:
    /// the rule writes all of it instead of adding (only for rules with
    /// `overwritesUnwrittenInputTangentGrad`; saves the engine's zeroing pass over the buffer).
    var inputTangentGradUnwritten = false

    func input(_ i: Int) -> UnsafePointer<Float> { inputs[i]! }
    func inputGrad(_ i: Int) -> UnsafeMutablePointer<Float>? { i < inputGrads.count ? inputGrads[i] : nil }
    func inputTangent(_ i: Int) -> UnsafePointer<Float>? { i < inputTangents.count ? inputTangents[i] : nil }
    func inputTangentGrad(_ i: Int) -> UnsafeMutablePointer<Float>? { i < inputTangentGrads.count ? inputTangentGrads[i] : nil }
}

/// The derivatives of one compiled step. Built once per compiled graph by `DerivativeRules.rule`.
protocol DerivativeRule {
    /// Accumulates input adjoints from output adjoints (`inputGrads[i]` nil: not wanted).
    func backward(_ d: DerivativeIO)
    /// Accumulates output tangents (zeroed by the caller) from input tangents, for each probe.
    func tangent(_ d: DerivativeIO)
    /// Accumulates the tangents of the input adjoints from the output adjoints, their tangents and
    /// the input tangents, for each probe.
    func tangentBackward(_ d: DerivativeIO)
    /// The input index of the weight for which the rule can accumulate the quadratic form
    /// v_Wᵀ(Hv)_W directly (into `quadraticForms`, without forming (Hv)_W), or nil. A rule that
    /// returns an index accepts a nil tangent adjoint for that input and needs `retained`.
    var quadraticFormWeight: Int? { get }
    /// Whether, in quadratic-form mode with no tangent on any data input, the rule's form is the
    /// pairing ⟨ȳ̇, ẏ⟩ of its output's tangent adjoint and tangent and its `tangentBackward` does
    /// nothing else: then the step reading that output can add the form instead (a network's first
    /// layer, see `completesInputPairing`), and this rule's `tangentBackward` is skipped.
    var quadraticFormIsOutputPairing: Bool { get }
    /// Whether the rule, itself in quadratic-form mode, can add ⟨ā̇, ȧ⟩ for its input 0 without
    /// forming ā̇ (`DerivativeIO.inputPairing`).
    var completesInputPairing: Bool { get }
    /// Whether `tangent` writes every element of its output tangent without reading it (the engine
    /// then does not zero it first).
    var overwritesOutputTangent: Bool { get }
    /// Whether `tangentBackward` honours `DerivativeIO.inputTangentGradUnwritten` (writes input 0's
    /// tangent adjoint in full when it is set).
    var overwritesUnwrittenInputTangentGrad: Bool { get }
}

extension DerivativeRule {
    var quadraticFormWeight: Int? { nil }
    var quadraticFormIsOutputPairing: Bool { false }
    var completesInputPairing: Bool { false }
    var overwritesOutputTangent: Bool { false }
    var overwritesUnwrittenInputTangentGrad: Bool { false }
}

/// Static facts about a step a rule may need: shapes and which inputs are compile-time constants.
struct DerivativeContext {
    let node: Node
    let op: Operator
    let inputTypes: [ValueType?]
    let outputTypes: [ValueType]
    /// Buffers of constant inputs (nil for run-time inputs).
    let constantInputs: [UnsafePointer<Float>?]
    /// The graph's scratch space, for index maps built by running the forward.
    let workspace: UnsafeMutablePointer<Float>

    func failure(_ message: String) -> QScopeError { QScopeError("\(node.label): \(message)") }
}

enum DerivativeRules {
    /// The rule for a compiled step that reads and writes float values (`ReverseMode` gives the
    /// others a zero derivative), or an error naming the op and node when there is none.
    static func rule(_ c: DerivativeContext) throws -> DerivativeRule {
        switch c.op {
        case let op as ConvOperator: return op.shape.group > 1 ? try GroupedConvDerivative(c, op) : try ConvDerivative(c, op)
        case let op as ConvTransposeOperator: return try ConvTransposeDerivative(c, op)
        case let op as ResizeOperator: return try ResizeDerivative(c, op)
        case let op as GemmOperator: return try GemmDerivative(c, op)
        case let op as MatMulOperator: return try MatMulDerivative(c, op)
        case let op as BinaryOperator:
            if let power = UnaryDerivative(c, constantPower: op) { return power }
            return try BinaryDerivative(c, op)
        case let op as UnaryOperator: return try UnaryDerivative(c, op)
        case let op as SoftmaxOperator: return op.logarithmic ? try LogSoftmaxDerivative(c, op) : try SoftmaxDerivative(c, op)
        case let op as BatchNormOperator: return BatchNormDerivative(c, op)
        case let op as PReluOperator: return try PReluDerivative(c, op)
        case let op as PadOperator: return try PadDerivative(c, op)
        case let op as VariadicOperator: return try SelectionDerivative(c, op)
        case let op as WhereOperator: return try SelectionDerivative(c, op)
        case let op as ReduceOperator: return try ReduceDerivative(c, op)
        case let op as LayerNormOperator: return try RowNormalizationDerivative(c, op)
        case let op as GroupNormOperator: return try RowNormalizationDerivative(c, op)
        case let op as LpNormOperator: return LpNormDerivative(c, op)
        case let op as ConcatOperator: return ConcatDerivative(c, op)
        case let op as SplitOperator: return SplitDerivative(c, op)
        case let op as GlobalPoolOperator: return op.isMax ? try MaxPoolDerivative(c, op) : try GlobalPoolDerivative(c, op)
        case let op as PoolOperator: return op.isMax ? try MaxPoolDerivative(c, op) : try AveragePoolDerivative(c, op)
        case let op as GatherOperator:
            // Constant indices: a fixed map (run-length optimised); run-time indices: re-read each pass.
            if c.constantInputs.count > 1, c.constantInputs[1] != nil, c.constantInputs[0] == nil { return try IndexMapDerivative(c) }
            return try GatherDerivative(c, op)
        case let op as GatherElementsOperator: return try GatherDerivative(c, op)
        case let op as GatherNDOperator: return try GatherDerivative(c, op)
        case let op as CumSumOperator: return CumSumDerivative(op: op)
        case let op as TriluOperator: return try TriluDerivative(c, op)
        case let op as EinsumOperator: return try EinsumDerivative(c, op)
        case is TransposeOperator, is StridedCopyOperator, is CopyOperator, is DropoutOperator, is TileOperator:
            return try IndexMapDerivative(c)
        case is DynamicQuantizeLinearOperator:
            // Its float output is the scale, a function of the input's extremes only; like the codes,
            // it is held constant (the straight-through treatment, see `Model.straightThroughTwin`).
            return ZeroDerivative()
        default:
            throw c.failure("has no backward (reverse mode is not implemented for \(c.node.opType))")
        }
    }
}

// MARK: - Small helpers shared by the rules

/// `C (+)= alpha · op(A) · op(B)` with A stored [m,k] (or [k,m] when `aT`) and B stored [k,n] (or
/// [n,k] when `bT`), row-major, dense.
@inline(__always)
func matmulAccumulate(m: Int, n: Int, k: Int, _ a: UnsafePointer<Float>, _ aT: Bool, _ b: UnsafePointer<Float>, _ bT: Bool,
                      _ c: UnsafeMutablePointer<Float>, alpha: Float = 1, accumulate: Bool = true, threads: Int) {
    guard m > 0, n > 0, k > 0 else { return }
    if !aT, narrowGemmPaysOff(m: m, n: n, k: k) {
        // Tall and narrow (the tangent products of a transformer's linear layers): A read in place.
        narrowGemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: bT ? k : n, transB: bT, c: c, ldc: n, alpha: alpha,
                   beta: accumulate ? 1 : 0, threads: threads)
        return
    }
    sgemm(m: m, n: n, k: k, a: a, lda: aT ? m : k, transA: aT, b: b, ldb: bT ? k : n, transB: bT,
          c: c, ldc: n, alpha: alpha, beta: accumulate ? 1 : 0, threads: threads)
}

/// Multiplies `values` by the ReLU mask of `y` (y > 0), probe-major copies of `count` each, in place.
@inline(__always)
func applyReluMask(_ values: UnsafeMutablePointer<Float>, y: UnsafePointer<Float>, count: Int, probes: Int, threads: Int) {
    copyWherePositive(values, mask: y, into: values, count: count, probes: probes, threads: threads)
}

/// A scratch buffer of `count` floats for the duration of `body`, zero-initialised unless `zeroed`
/// is false (for buffers the caller overwrites in full).
///
/// Buffers come from `ScratchCache`: the HVP passes ask for the same large sizes over and over, and
/// fresh allocations of that size cost a page fault per 4 KiB (measured: 10% of a CNN HVP).
@inline(__always)
func withScratch<R>(_ count: Int, zeroed: Bool = true, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    let buffer = ScratchCache.shared.take(max(count, 1))
    if zeroed { buffer.pointer.update(repeating: 0, count: max(count, 1)) }
    defer { ScratchCache.shared.give(buffer) }
    return try body(buffer.pointer)
}

/// A Conv's Z̄ (or its tangent, `probes` copies of `count`) = adjoint ⊙ ReLU mask (y > 0): `g`
/// itself without a fused ReLU, else a masked copy in a scratch buffer, for the duration of `body`.
@inline(__always)
func withReluMasked<R>(_ g: UnsafePointer<Float>?, _ y: UnsafePointer<Float>, relu: Bool, count: Int, probes: Int, threads: Int,
                       _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let g, relu else { return body(g) }
    return withScratch(probes * count, zeroed: false) { out in
        copyWherePositive(g, mask: y, into: out, count: count, probes: probes, threads: threads)
        return body(UnsafePointer(out))
    }
}

/// Σ x[i]·y[i], 16 lanes at a time (the order of a vector sum, not of a scalar loop).
@inline(__always)
func laneDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD16<Float>()
    var i = 0
    while i + 16 <= count {
        lanes.addProduct(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self),
                         UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self))
        i += 16
    }
    var sum = lanes.sum()
    while i < count {
        sum += x[i] * y[i]
        i += 1
    }
    return sum
}
