import Foundation
import Kernels

/// What the scalar loss compares the model's first output with. The output is read as `rows` rows
/// of `classes` values along its last axis (`[N, classes]`: one row per sample; `[N, T, vocab]`: T
/// rows per sample).
public enum LossTarget: Sendable {
    /// Mean cross-entropy with these labels, one per sample; the output must be `[batch, classes]`.
    case labels([Int])
    /// KL divergence from these probabilities (the FP32 model's last-axis softmax, `rows × classes`)
    /// to the model's softmax, averaged over each sample's rows: the label-free loss for logits.
    case probabilities([Float])
    /// Mean squared error to these outputs (the FP32 model's, same layout as the output), averaged
    /// over each sample's values: the label-free loss for embeddings and other continuous outputs.
    case outputs([Float])
    /// The linear function Σ r·y of the output for these coefficients r (same layout): its gradient
    /// is Jᵀr, whose square is an unbiased sample of the Gauss-Newton diagonal when r is Rademacher.
    case cotangent([Float])

    /// How `--json` and the screen name the loss.
    public var name: String {
        switch self {
        case .labels: return "cross-entropy"
        case .probabilities: return "kl-to-fp32"
        case .outputs: return "mse-to-fp32"
        case .cotangent: return "random-projection"
        }
    }
}

/// Reverse mode and exact Hessian-vector products over one model compiled for a fixed batch.
///
/// The graph is compiled with every intermediate value retained. `prepare` runs the forward pass, the
/// loss and the backward pass (gradients of the loss with respect to every run-time value and every
/// quantizable weight); `hessianVectorProducts` then runs the tangent forward pass for P weight
/// directions at once and the tangent of the backward pass (forward-over-reverse), accumulating Hv
/// for every layer. A fused max pool is undone first so that its input is retained.
///
/// Not thread-safe: one instance per thread.
public final class ReverseMode: @unchecked Sendable {
    public let model: Model
    public let compiled: CompiledGraph
    public let batch: Int
    /// Length of the output's last axis, and rows of it in one pass (`batch × positions`).
    public let classes: Int
    public let rows: Int
    /// Weight ids of the model's quantizable layers, in `model.layers` order.
    public let weights: [ValueID]

    private let rules: [DerivativeRule]
    /// Per compiled step: root ids of the inputs (nil absent) and outputs.
    private let stepInputs: [[ValueID?]]
    private let stepOutputs: [[ValueID]]
    private let isWeight: [Bool]
    private let dependsOnWeights: [Bool]
    private let runtimeRoots: [ValueID]
    private let outputRoot: ValueID
    private var grads: [UnsafeMutablePointer<Float>?]
    /// The current tangent pass's buffers (from `storage`; nil for values no weight is upstream of).
    private var tangents: [UnsafeMutablePointer<Float>?]
    private var tangentGrads: [UnsafeMutablePointer<Float>?]
    private let storage: TangentStorage
    private var loss: LossTarget?
    private var lossScale: Float = 1
    /// Softmax of the last pass's output rows (rows × classes), in Double (softmax-based losses only).
    private var probabilities: [Double] = []
    /// Each row's weight in the loss: scale / (rows per sample) for the softmax-based losses, so a
    /// sample's loss is the mean over its positions.
    private var rowScale: Double = 1

    /// Compiles `model` for `batch` samples of `sampleShape` (its first input; see
    /// `Model.inputShapes(batch:sampleShape:)`).
    public convenience init(model: Model, batch: Int, sampleShape: [Int], threads: Int = Parallel.maxThreads,
                            tangentStorage: TangentStorage? = nil) throws {
        try self.init(model: model, batch: batch, inputShapes: model.inputShapes(batch: batch, sampleShape: sampleShape),
                      threads: threads, tangentStorage: tangentStorage)
    }

    /// Compiles `model` for `batch` samples of one sample shape per input.
    public convenience init(model: Model, batch: Int, sampleShapes: [[Int]], threads: Int = Parallel.maxThreads,
                            tangentStorage: TangentStorage? = nil) throws {
        try self.init(model: model, batch: batch, inputShapes: model.inputShapes(batch: batch, sampleShapes: sampleShapes),
                      threads: threads, tangentStorage: tangentStorage)
    }

    /// Compiles `model` for these concrete input shapes (batch first). Fails, naming the op and
    /// node, when a step has no backward, and when the first output does not have the samples first.
    /// `tangentStorage`: the tangent passes' buffers, shared with other engines of the same model that
    /// never run a tangent pass at the same time (see `TangentStorage`); nil: this engine's own.
    public init(model stored: Model, batch: Int, inputShapes: [[Int]], threads: Int = Parallel.maxThreads,
                tangentStorage: TangentStorage? = nil) throws {
        // An already-quantized model is differentiated through its float twin (straight-through).
        let model = stored.straightThroughTwin()
        self.model = model
        self.storage = tangentStorage ?? TangentStorage()
        self.batch = batch
        let graph = model.graph
        let compiled: CompiledGraph
        do {
            compiled = try CompiledGraph(graph: graph, inputShapes: inputShapes, threads: threads, retainAll: true)
        } catch let error as QScopeError {
            throw model.explainingFixedBatch(error, inputShapes: inputShapes).inFile(model.path)
        }
        self.compiled = compiled
        let outShape = compiled.outputTypes.first?.shape ?? []
        guard outShape.count >= 2, outShape[0] == batch else {
            throw QScopeError(file: model.path, "the model's first output has shape \(outShape) for a batch of \(batch); "
                              + "the Hessian analysis needs the samples first, [batch, ...]")
        }
        classes = outShape.last!
        rows = outShape.dropLast().reduce(1, *)
        weights = model.layers.map(\.weight)
        let valueCount = graph.valueNames.count
        let views = compiled.viewSources
        func root(_ id: ValueID) -> ValueID { views[id] ?? id }
        var isWeight = [Bool](repeating: false, count: valueCount)
        for w in weights { isWeight[w] = true }
        var depends = isWeight
        var rules: [DerivativeRule] = []
        var stepInputs: [[ValueID?]] = [], stepOutputs: [[ValueID]] = []
        var roots = Set<ValueID>()
        for id in graph.inputIDs { roots.insert(root(id)) }
        for step in compiled.steps {
            let node = graph.nodes[step.nodeIndex]
            let inputTypes = step.inputs.map { $0.flatMap { compiled.types[$0] } }
            let constantInputs: [UnsafePointer<Float>?] = step.inputs.map { id in
                guard let id, compiled.constants[id] != nil else { return nil }
                return compiled.value(id)?.baseAddress
            }
            let context = DerivativeContext(node: node, op: step.op, inputTypes: inputTypes, outputTypes: step.op.outputTypes,
                                            constantInputs: constantInputs, workspace: compiled.workspace)
            let inputs = step.inputs.map { $0.map(root) }
            let dependent = inputs.contains { $0 != nil && depends[$0!] }
            // Only float values carry derivatives: a step needs a rule when it reads a float computed
            // at run time or a weight, and writes a float. The others (the lookup of run-time token ids
            // in a constant embedding table, mask and position arithmetic on integers, comparisons)
            // pass no adjoint and have a zero tangent, and need no rule even when their op has none.
            let readsDifferentiable = step.inputs.contains { id in
                guard let id else { return false }
                if isWeight[root(id)] { return true }
                guard compiled.constants[id] == nil, let type = compiled.types[id] else { return false }
                return type.dataType.isFloat
            }
            let writesFloat = step.op.outputTypes.contains { $0.dataType.isFloat }
            do {
                rules.append(readsDifferentiable && writesFloat ? try DerivativeRules.rule(context) : ZeroDerivative())
            } catch let error as QScopeError {
                throw error.inFile(model.path)
            }
            stepInputs.append(inputs)
            stepOutputs.append(step.outputs)
            for id in step.outputs where id < valueCount {
                depends[id] = dependent
                if compiled.types[id] != nil { roots.insert(id) }
            }
        }
        self.rules = rules
        self.stepInputs = stepInputs
        self.stepOutputs = stepOutputs
        self.isWeight = isWeight
        self.dependsOnWeights = depends
        self.runtimeRoots = roots.sorted()
        self.outputRoot = root(graph.outputIDs[0])
        grads = Array(repeating: nil, count: valueCount)
        tangents = Array(repeating: nil, count: valueCount)
        tangentGrads = Array(repeating: nil, count: valueCount)
        for id in runtimeRoots + weights where grads[id] == nil {
            grads[id] = .allocate(capacity: max(count(id), 1))
        }
    }

    deinit {
        for buffer in grads { buffer?.deallocate() }
    }

    private func count(_ id: ValueID) -> Int { compiled.types[id]?.count ?? 0 }

    /// Floats of all run-time values of one pass (each of primal, adjoint and, per probe, tangent and
    /// tangent adjoint has about this many): what sizes the batch for a memory budget.
    public var valueFloats: Int { runtimeRoots.reduce(0) { $0 + count($1) } }

    // MARK: - Primal pass

    /// Runs the forward pass on `input` (batch × sample floats of a single-input model), the loss,
    /// and the backward pass. See `prepare(inputs:target:scale:)`.
    @discardableResult
    public func prepare(input: UnsafePointer<Float>, target: LossTarget, scale: Float) throws -> Double {
        try prepare(inputs: [input], target: target, scale: scale)
    }

    /// Runs the forward pass on `inputs` (one buffer per model input, batch first), the loss, and the
    /// backward pass. The loss is `scale · Σ_samples ℓ` (scale 1/batch gives the mean), with ℓ a
    /// sample's cross-entropy, its mean KL over positions, its mean squared error over values, or
    /// the linear projection (see `LossTarget`). Returns the loss.
    @discardableResult
    public func prepare(inputs: [UnsafePointer<Float>], target: LossTarget, scale: Float) throws -> Double {
        let outputCount = rows * classes
        switch target {
        case .labels(let labels):
            guard rows == batch, classes >= 2 else {
                throw QScopeError(file: model.path, "labels need [batch, classes] logits; the output has \(rows / max(batch, 1)) rows of \(classes) per sample")
            }
            guard labels.count == batch else { throw QScopeError("\(labels.count) labels for a batch of \(batch)") }
            if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
                throw QScopeError("label \(bad) is out of range for \(classes) classes")
            }
        case .probabilities(let q):
            guard q.count == outputCount else { throw QScopeError("reference probabilities have the wrong size") }
        case .outputs(let r), .cotangent(let r):
            guard r.count == outputCount else { throw QScopeError("reference outputs have the wrong size") }
        }
        loss = target
        lossScale = scale
        compiled.run(inputs)
        if let fault = compiled.takeRuntimeFault() { throw fault.inFile(model.path) }
        let z = compiled.output(0)
        let outGrad = grads[outputRoot]!
        for id in runtimeRoots + weights { grads[id]!.update(repeating: 0, count: max(count(id), 1)) }
        var total: Double = 0
        switch target {
        case .labels, .probabilities:
            rowScale = Double(scale) * Double(batch) / Double(rows)
            probabilities = [Double](repeating: 0, count: outputCount)
            for n in 0..<rows {
                var maxZ = -Double.infinity
                for c in 0..<classes { maxZ = max(maxZ, Double(z[n * classes + c])) }
                var sum: Double = 0
                for c in 0..<classes { sum += Foundation.exp(Double(z[n * classes + c]) - maxZ) }
                let logSum = maxZ + Foundation.log(sum)
                for c in 0..<classes { probabilities[n * classes + c] = Foundation.exp(Double(z[n * classes + c]) - logSum) }
                switch target {
                case .labels(let labels):
                    total += rowScale * (logSum - Double(z[n * classes + labels[n]]))
                    for c in 0..<classes {
                        outGrad[n * classes + c] = Float(rowScale * (probabilities[n * classes + c] - (c == labels[n] ? 1 : 0)))
                    }
                case .probabilities(let q):
                    for c in 0..<classes {
                        let qc = Double(q[n * classes + c])
                        if qc > 0 { total += rowScale * qc * (Foundation.log(qc) - (Double(z[n * classes + c]) - logSum)) }
                        outGrad[n * classes + c] = Float(rowScale * (probabilities[n * classes + c] - qc))
                    }
                default: break
                }
            }
        case .outputs(let r):
            // ℓ = (1/E) Σ (y − r)² per sample of E values: gradient scale · 2/E · (y − r).
            rowScale = Double(scale) * 2 * Double(batch) / Double(outputCount)
            for e in 0..<outputCount {
                let d = Double(z[e]) - Double(r[e])
                total += rowScale / 2 * d * d
                outGrad[e] = Float(rowScale * d)
            }
        case .cotangent(let r):
            rowScale = 0
            for e in 0..<outputCount {
                total += Double(scale) * Double(r[e]) * Double(z[e])
                outGrad[e] = scale * r[e]
            }
        }
        for (index, rule) in rules.enumerated().reversed() {
            rule.backward(io(step: index, probes: 1))
        }
        return total
    }

    /// The buffers of step `index` for a pass with `probes` tangent copies.
    private func io(step index: Int, probes: Int, weightTangents: [ValueID: UnsafePointer<Float>] = [:],
                    weightTangentGrads: [ValueID: UnsafeMutablePointer<Float>] = [:]) -> DerivativeIO {
        let inputs = stepInputs[index], outputs = stepOutputs[index]
        return DerivativeIO(
            probes: probes,
            // The step's own pointer table: a substituted weight is read where the forward read it.
            inputs: inputs.indices.map { i in inputs[i] == nil ? nil : compiled.steps[index].inputTable[i].map { UnsafePointer($0) } },
            outputs: outputs.map { compiled.value($0)?.baseAddress ?? UnsafePointer(grads[$0] ?? tangentScratch) },
            inputGrads: inputs.map { $0.flatMap { grads[$0] } },
            outputGrads: outputs.map { grads[$0].map { UnsafePointer($0) } },
            inputTangents: inputs.map { id in
                guard let id else { return nil }
                if isWeight[id] { return weightTangents[id] }
                return tangents[id].map { UnsafePointer($0) }
            },
            outputTangents: outputs.map { tangents[$0] },
            inputTangentGrads: inputs.map { id in
                guard let id else { return nil }
                if isWeight[id] { return weightTangentGrads[id] }
                return tangentGrads[id]
            },
            outputTangentGrads: outputs.map { tangentGrads[$0].map { UnsafePointer($0) } },
            threads: compiled.threads)
    }

    private lazy var tangentScratch: UnsafeMutablePointer<Float> = .allocate(capacity: 1)

    /// The loss gradient with respect to a weight or run-time value after `prepare` (nil when not kept).
    public func gradient(_ id: ValueID) -> UnsafeBufferPointer<Float>? {
        let rootID = compiled.viewSources[id] ?? id
        return grads[rootID].map { UnsafeBufferPointer(start: $0, count: count(rootID)) }
    }

    /// The loss gradient with respect to a quantizable layer's input activation after `prepare`.
    public func inputGradient(of layer: QuantizableLayer) -> UnsafeBufferPointer<Float>? {
        guard let input = model.graph.nodes[layer.nodeIndex].inputs.first ?? nil else { return nil }
        return gradient(input)
    }

    /// The first output of the last pass (rows × classes).
    public var logits: UnsafeBufferPointer<Float> { compiled.output(0) }

    /// The softmax of the last pass's output rows (rows × classes; softmax-based losses only).
    public var softmax: [Float] { probabilities.map(Float.init) }

    // MARK: - Hessian-vector products

    /// Adds H·v for `probes` weight directions to `results`, after `prepare` (same input and loss).
    ///
    /// `directions[l]` and `results[l]` hold `probes` copies (probe-major) of layer l's weight,
    /// in `weights` order. H is the Hessian of the loss of the last `prepare` with respect to all
    /// quantizable weights; Hv is exact up to float rounding (forward-over-reverse).
    public func hessianVectorProducts(directions: [UnsafePointer<Float>], probes: Int, results: [UnsafeMutablePointer<Float>]) {
        precondition(directions.count == weights.count && results.count == weights.count, "one buffer per layer")
        tangentPasses(directions: directions, probes: probes, results: results.map { Optional($0) }, forms: [:])
    }

    /// Adds v_lᵀ(Hv)_l for every layer l and probe to `results[l][probe]`, after `prepare`: the
    /// per-layer Hutchinson samples, with v the concatenation of `directions` (as in
    /// `hessianVectorProducts`). Equal to the dot products of `directions` with that function's
    /// products, but cheaper: layers whose rule knows the quadratic form directly (Conv:
    /// ⟨Ż̄, conv(x, V)⟩ + ⟨Z̄, conv(ẋ, V)⟩; Gemm and MatMul with the weight as B: the same with the
    /// product) skip their weight-gradient products; the others form (Hv)_l and take the dot product.
    public func hessianQuadraticForms(directions: [UnsafePointer<Float>], probes: Int) -> [[Double]] {
        precondition(directions.count == weights.count, "one buffer per layer")
        var forms: [Int: UnsafeMutablePointer<Double>] = [:]
        var products: [UnsafeMutablePointer<Float>?] = []
        for (l, step) in quadraticFormSteps.enumerated() {
            if let step {
                let sums = UnsafeMutablePointer<Double>.allocate(capacity: probes)
                sums.initialize(repeating: 0, count: probes)
                forms[step] = sums
                products.append(nil)
            } else {
                let count = probes * model.layers[l].parameterCount
                let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
                buffer.initialize(repeating: 0, count: count)
                products.append(buffer)
            }
        }
        defer {
            for sums in forms.values { sums.deallocate() }
            for buffer in products { buffer?.deallocate() }
        }
        tangentPasses(directions: directions, probes: probes, results: products, forms: forms)
        var results: [[Double]] = []
        for (l, step) in quadraticFormSteps.enumerated() {
            if let step {
                results.append(Array(UnsafeBufferPointer(start: forms[step]!, count: probes)))
            } else {
                let n = model.layers[l].parameterCount, hv = products[l]!
                results.append((0..<probes).map { dotProduct(directions[l] + $0 * n, hv + $0 * n, count: n) })
            }
        }
        return results
    }

    /// Per layer (`weights` order): the step that accumulates the layer's quadratic form directly,
    /// or nil when (Hv)_l has to be formed: the weight must feed exactly one step, once, at the input
    /// that step's rule names (`DerivativeRule.quadraticFormWeight`). Found once per instance.
    private lazy var quadraticFormSteps: [Int?] = {
        self.weights.map { id in
            let consumers = self.stepInputs.indices.filter { self.stepInputs[$0].contains(id) }
            guard consumers.count == 1, let input = self.rules[consumers[0]].quadraticFormWeight,
                  self.stepInputs[consumers[0]][input] == id, self.stepInputs[consumers[0]].filter({ $0 == id }).count == 1
            else { return nil }
            return consumers[0]
        }
    }()

    /// Quadratic-form steps whose form the one step reading their output adds instead
    /// (`DerivativeRule.completesInputPairing`), as consumer step → producer step: the producer's
    /// data inputs carry no tangent (a first layer), its output is read by that step alone, once,
    /// as input 0, and both are in quadratic-form mode. The producer's tangent backward and its
    /// output's tangent adjoint are then skipped. Found once per instance.
    private lazy var pairedForms: [Int: Int] = {
        var pairs: [Int: Int] = [:]
        for (l, producer) in self.quadraticFormSteps.enumerated() {
            guard let producer, self.rules[producer].quadraticFormIsOutputPairing, self.stepOutputs[producer].count == 1,
                  self.stepInputs[producer].allSatisfy({ $0 == nil || $0 == self.weights[l] || !self.dependsOnWeights[$0!] })
            else { continue }
            let output = self.stepOutputs[producer][0]
            guard output != self.outputRoot, !self.isWeight[output] else { continue }
            let consumers = self.stepInputs.indices.filter { self.stepInputs[$0].contains(output) }
            guard consumers.count == 1, let consumer = consumers.first, self.rules[consumer].completesInputPairing,
                  self.stepInputs[consumer].first == output, self.stepInputs[consumer].filter({ $0 == output }).count == 1,
                  self.quadraticFormSteps.contains(consumer)
            else { continue }
            pairs[consumer] = producer
        }
        return pairs
    }()

    /// The tangent pass and the tangent of the backward pass for `probes` weight directions.
    /// `results[l]` (nil: not wanted) receives (Hv)_l; steps in `forms` accumulate their
    /// quadratic form instead (their weight's `results` entry must be nil).
    private func tangentPasses(directions: [UnsafePointer<Float>], probes: Int, results: [UnsafeMutablePointer<Float>?],
                               forms: [Int: UnsafeMutablePointer<Double>]) {
        precondition(loss != nil, "prepare() first")
        // A value computed from the input alone has neither a tangent nor a tangent adjoint: no weight is upstream.
        for id in runtimeRoots where dependsOnWeights[id] {
            tangents[id] = storage.buffer(.tangent(id), floats: probes * count(id))
            tangentGrads[id] = storage.buffer(.tangentOfAdjoint(id), floats: probes * count(id))
        }
        // Buffers are zeroed just before the first rule that writes them (below), not all up front:
        // the zeros are then still in cache when that rule adds to them (zeroing everything first
        // streamed every tangent through memory twice; it was ~15% of a ViT pass).
        var zeroedTangents = Set<ValueID>(), zeroedAdjoints = Set<ValueID>()
        func zeroTangent(_ id: ValueID) {
            guard let buffer = tangents[id], zeroedTangents.insert(id).inserted else { return }
            zeroFill(buffer, count: max(probes * count(id), 1), threads: compiled.threads)
        }
        func zeroAdjoint(_ id: ValueID) {
            guard let buffer = tangentGrads[id], zeroedAdjoints.insert(id).inserted else { return }
            zeroFill(buffer, count: max(probes * count(id), 1), threads: compiled.threads)
        }
        var weightTangents: [ValueID: UnsafePointer<Float>] = [:]
        var weightTangentGrads: [ValueID: UnsafeMutablePointer<Float>] = [:]
        for (l, id) in weights.enumerated() {
            weightTangents[id] = directions[l]
            weightTangentGrads[id] = results[l]
        }
        // Pairing (see `pairedForms`) only where both forms are wanted: never for Hv.
        let pairs = pairedForms.filter { forms[$0.key] != nil && forms[$0.value] != nil }
        let pairedProducers = Set(pairs.values)
        // Outputs of quadratic-form steps, kept from their tangent to their tangent backward.
        var retained: [Int: UnsafeMutablePointer<Float>] = [:]
        for index in forms.keys where !pairedProducers.contains(index) {
            let floats = probes * count(stepOutputs[index][0]) * (pairs[index] == nil ? 1 : 2)
            retained[index] = storage.buffer(.retained(step: index), floats: floats)
        }
        func io(_ index: Int, backward: Bool) -> DerivativeIO {
            var d = self.io(step: index, probes: probes, weightTangents: weightTangents,
                            weightTangentGrads: backward ? weightTangentGrads : [:])
            d.quadraticForms = forms[index]
            d.retained = retained[index]
            if let producer = pairs[index] {
                d.inputPairing = forms[producer]
                d.inputTangentGrads[0] = nil
            }
            return d
        }
        for index in rules.indices where stepInputs[index].contains(where: { $0 != nil && dependsOnWeights[$0!] }) {
            for id in stepOutputs[index] where id < tangents.count {
                if rules[index].overwritesOutputTangent {
                    zeroedTangents.insert(id)
                } else {
                    zeroTangent(id)
                }
            }
            rules[index].tangent(io(index, backward: false))
        }
        // Tangents no step wrote (outputs of steps that read no weight-dependent value) stay zero.
        for id in runtimeRoots { zeroTangent(id) }
        zeroAdjoint(outputRoot)
        // Tangent of the loss adjoint: rowScale · (diag(p) − p pᵀ) · ż per row for the softmax-based
        // losses, rowScale · ż for the squared error, zero for the linear projection.
        if let tz = tangents[outputRoot], let tg = tangentGrads[outputRoot] {
            let n = rows * classes
            switch loss {
            case .labels?, .probabilities?:
                for p in 0..<probes {
                    for s in 0..<rows {
                        var dot: Double = 0
                        for c in 0..<classes { dot += Double(tz[p * n + s * classes + c]) * probabilities[s * classes + c] }
                        for c in 0..<classes {
                            let e = s * classes + c
                            tg[p * n + e] = Float(rowScale * probabilities[e] * (Double(tz[p * n + e]) - dot))
                        }
                    }
                }
            case .outputs?:
                for e in 0..<(probes * n) { tg[e] = Float(rowScale * Double(tz[e])) }
            case .cotangent?, nil:
                tg.update(repeating: 0, count: probes * n)
            }
        }
        for index in rules.indices.reversed() where !pairedProducers.contains(index) {
            // This step is the first (in reverse order) to add to its inputs' tangent adjoints
            // unless a later step read them too; its outputs' were complete before it ran.
            for id in stepOutputs[index] where id < tangentGrads.count { zeroAdjoint(id) }
            var unwritten = false
            for (i, input) in stepInputs[index].enumerated() {
                guard let id = input, !isWeight[id], !(i == 0 && pairs[index] != nil) else { continue }
                if i == 0, rules[index].overwritesUnwrittenInputTangentGrad, tangentGrads[id] != nil,
                   !zeroedAdjoints.contains(id), stepInputs[index].filter({ $0 == id }).count == 1 {
                    // The rule writes this buffer in full (the first writer in reverse order).
                    zeroedAdjoints.insert(id)
                    unwritten = true
                    continue
                }
                zeroAdjoint(id)
            }
            var d = io(index, backward: true)
            d.inputTangentGradUnwritten = unwritten
            rules[index].tangentBackward(d)
        }
    }
}

extension ReverseMode {
    /// Runs only the forward pass on `inputs` and returns the softmax of the output's rows
    /// (rows × classes): the FP32 reference distribution for the KL loss.
    public func forwardProbabilities(inputs: [UnsafePointer<Float>]) throws -> [Float] {
        let z = try forwardOutputs(inputs: inputs)
        var result = [Float](repeating: 0, count: rows * classes)
        for n in 0..<rows {
            var maxZ = -Double.infinity
            for c in 0..<classes { maxZ = max(maxZ, Double(z[n * classes + c])) }
            var sum: Double = 0
            for c in 0..<classes { sum += Foundation.exp(Double(z[n * classes + c]) - maxZ) }
            for c in 0..<classes { result[n * classes + c] = Float(Foundation.exp(Double(z[n * classes + c]) - maxZ) / sum) }
        }
        return result
    }

    /// The softmax for a single-input model (see `forwardProbabilities(inputs:)`).
    public func forwardProbabilities(input: UnsafePointer<Float>) throws -> [Float] {
        try forwardProbabilities(inputs: [input])
    }

    /// Runs only the forward pass and returns a copy of the first output (rows × classes): the FP32
    /// reference for the squared-error loss.
    public func forwardOutputs(inputs: [UnsafePointer<Float>]) throws -> [Float] {
        compiled.run(inputs)
        if let fault = compiled.takeRuntimeFault() { throw fault.inFile(model.path) }
        return Array(compiled.output(0))
    }
}
