import Executor
import Foundation
import Kernels
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Evaluates plans on a fixed evaluation set as fast as an edit allows.
///
/// - Weights: each quantizable layer's weight is replaced by its fake-quantized copy through
///   `CompiledGraph.substitute` (the FP32 weights are never modified); quantized copies are cached
///   per (layer, spec) in a `QuantizedWeightCache`.
/// - Prefix cache: the values crossing the cut before a layer's step depend only on the choices of
///   the layers before it. When a plan first differs from the previous one at layer k, the pass
///   saves those boundary values (per batch) at k; a later plan with the same choices for layers
///   0..<k resumes at k and runs only the rest of the network. The cut used is the latest cached one
///   whose prefix matches. Boundaries are kept up to `boundaryBudgetBytes`, least recently used first
///   out, in recycled memory (`BoundaryMemory`) that `reserveBoundaryMemory` touches ahead of need.
///
/// - Results: the first output is scored against the FP32 pass's outputs (`FidelityTally`: agreement,
///   cosine, SQNR, KL, and accuracy when labels score it); the tallies of the last 64 plans are
///   kept, so undo, redo and prefetched edits are answered without a pass.
///
/// - Lanes: batches run side by side, one per core, each on a graph of its own compiled for one
///   thread, instead of one batch at a time with every operator split over the cores. A small batch
///   per lane keeps a whole pass's activations in the core's caches and needs no fork and join per
///   operator: on the sample CNN, 2 lanes of 32 images did 25.3k images/s where 2 threads on batches
///   of 256 did 21.4k. Which lane runs a batch does not change its result (the graphs are the same).
///
/// An actor, so that one evaluation runs at a time (the compiled graphs and caches are shared);
/// callers are cancelled between batches (`Task.isCancelled`), and a cancelled evaluation throws
/// `CancellationError` and leaves no boundary half-saved.
public actor PlanEvaluator {
    public nonisolated let model: Model
    public nonisolated let dataset: Dataset
    /// The first output's layout and the headline metric.
    public nonisolated let scoring: FidelityScoring
    /// Length of the output's last axis (classes of a classifier).
    public nonisolated var classes: Int { scoring.layout.classes }
    public nonisolated let batchSize: Int
    /// Batches evaluated side by side (each on one thread).
    public nonisolated let lanes: Int
    /// Samples per batch when the caller does not say: the lanes' caches hold a whole pass of the
    /// sample CNN at 32 (measured on 2 cores: 32 per lane 25.3k images/s, 64 per lane 23.2k, 16 24.1k).
    public static let defaultBatchSize = 32
    /// Test hook: how many forward passes (over the whole evaluation set) have run.
    public private(set) var passes = 0

    private let weights: QuantizedWeightCache
    /// Per batch size (the last batch may be smaller), one graph per lane.
    private let graphs: [Int: [CompiledGraph]]
    private let batches: [Range<Int>]
    /// Step index of each layer's node (same in every compiled graph: steps follow the node order).
    private let layerSteps: [Int]
    /// The choices substituted into each graph (by `ObjectIdentifier` of the graph).
    private var applied: [ObjectIdentifier: [LayerChoice?]] = [:]
    private var boundaries: [Boundary] = []
    private let memory = BoundaryMemory()
    /// Floats a boundary at each layer holds (all batches).
    private let boundaryFloats: [Int]
    /// Per layer, per batch: the live values at the layer's step and where each goes in a slab of
    /// `boundaryFloats[layer]` floats (batches one after the other).
    private let boundaryLayouts: [[[(ValueID, Range<Int>)]]]
    /// The last plan evaluated on request (not a prefetch): where the next edit most likely starts.
    private var lastPlan: Plan?
    /// The FP32 pass's outputs, and its tally against itself (its count correct against the labels).
    private var reference: (outputs: FidelityReference, tally: FidelityTally)?
    /// Tallies of recently evaluated plans (undo, redo and prefetched edits cost no pass).
    private var memo: [Plan: FidelityTally] = [:]
    private var memoOrder: [Plan] = []
    private static let memoCapacity = 64
    private var useCounter = 0

    /// Upper bound on memory held by saved boundaries.
    public var boundaryBudgetBytes = 6 << 30
    /// Upper bound on free boundary memory touched ahead of need (`reserveBoundaryMemory`).
    public var reserveBudgetBytes = 1 << 30
    /// Set by `acceptIdleWorker` or the first `reserveBoundaryMemory`: someone does idle work for
    /// this evaluator, so an evaluation saves its boundary into reserved memory only.
    private var hasIdleWorker = false

    private struct Boundary {
        var layer: Int
        var prefix: ArraySlice<LayerChoice>
        /// The values at the layer's step of every batch, laid out as `boundaryLayouts[layer]`.
        var slab: BoundaryMemory.Slab
        var bytes: Int { slab.capacity * 4 }
        var lastUse: Int
    }

    /// Prepares graphs for `dataset` (already fitted to the model's input) in batches of `batchSize`.
    ///
    /// - Parameter fisherSamples: `lut` choices weight their k-means by the Fisher diagonal computed
    ///   on the first N samples of `dataset` (once, on the first `lut` choice, then kept); nil, or a
    ///   model without gradients: plain k-means.
    /// - Parameter lanes: batches run side by side; nil: one per core (at most one per batch).
    /// - Parameter metric: the headline metric (`--metric`); nil: the default for the output and data.
    public init(model: Model, dataset: Dataset, batchSize: Int = PlanEvaluator.defaultBatchSize,
                fisherSamples: Int? = 512, lanes: Int? = nil, metric: FidelityMetric? = nil) throws {
        guard dataset.count > 0 else { throw QScopeError(file: dataset.source, "has no samples") }
        self.model = model
        self.dataset = dataset
        self.batchSize = max(1, min(batchSize, dataset.count))
        var ranges: [Range<Int>] = []
        var start = 0
        while start < dataset.count {
            ranges.append(start..<min(start + self.batchSize, dataset.count))
            start += self.batchSize
        }
        batches = ranges
        let lanes = max(1, min(lanes ?? Parallel.maxThreads, ranges.count))
        self.lanes = lanes
        let threadsPerLane = lanes > 1 ? max(1, Parallel.maxThreads / lanes) : Parallel.maxThreads
        weights = QuantizedWeightCache(model: model, fisher: {
            guard let fisherSamples else { return nil }
            do {
                return try FisherDiagonal.compute(model: model, data: dataset, samples: fisherSamples,
                                                  isCancelled: { Task.isCancelled })
            } catch is QScopeError {
                // No gradients for this model (an op without a backward): plain k-means, as the
                // spec says; `LayerQuantization.fisherWeighted` reports it.
                return nil
            }
        })
        var compiled: [Int: [CompiledGraph]] = [:]
        var perSample: [Int]?
        for size in Set(ranges.map(\.count)).sorted() {
            let graph = try model.compile(batch: size, sampleShapes: dataset.sampleShapes, threads: threadsPerLane)
            let shape = graph.outputTypes.first?.shape ?? []
            guard shape.first == size, perSample == nil || perSample! == Array(shape.dropFirst()) else {
                let name = model.graph.valueNames[model.graph.outputIDs[0]]
                throw QScopeError(file: model.path, "the first output '\(name)' has shape \(shape) for a batch of \(size); qscope scores outputs whose first dimension is the sample")
            }
            perSample = Array(shape.dropFirst())
            compiled[size] = try [graph] + (1..<lanes).map { _ in
                try model.compile(batch: size, sampleShapes: dataset.sampleShapes, threads: threadsPerLane)
            }
        }
        graphs = compiled
        let any = compiled[ranges[0].count]![0]
        scoring = try FidelityScoring(inferred: OutputLayout.infer(model: model, outputShape: any.outputTypes[0].shape),
                                      hasLabels: dataset.labels != nil, requested: metric)
        if dataset.labels != nil && scoring.layout.isClassifier { try dataset.validateLabels(classes: scoring.layout.classes) }
        let steps = try model.layers.map { layer in
            guard let step = any.stepIndex(ofNode: layer.nodeIndex) else {
                throw QScopeError(file: model.path, "layer '\(layer.name)' has no executable step")
            }
            return step
        }
        layerSteps = steps
        let layouts = steps.map { step in
            var filled = 0
            return ranges.map { range in
                let graph = compiled[range.count]![0]
                return graph.liveValues(atStep: step).map { id in
                    let count = graph.mutableValue(id)!.count
                    defer { filled += count }
                    return (id, filled..<(filled + count))
                }
            }
        }
        boundaryLayouts = layouts
        boundaryFloats = layouts.map { $0.last?.last?.1.upperBound ?? 0 }
    }

    /// Declares that someone calls `reserveBoundaryMemory` and `extendBoundaries` while idle: from now
    /// on an evaluation saves its cut only into memory reserved ahead (a fresh mapping's page faults
    /// can cost more than the pass) and leaves the rest to that idle work. Costs nothing.
    public func acceptIdleWorker() {
        hasIdleWorker = true
    }

    /// Maps and touches memory for the next boundaries to be saved, so that saving one costs a copy
    /// and no page faults (see `BoundaryMemory`): a free slab for a boundary at each layer, from the
    /// first, up to `reserveBudgetBytes`. The engine calls this while idle; it stops between 8 MiB
    /// steps when the calling task is cancelled.
    public func reserveBoundaryMemory() {
        acceptIdleWorker()
        var sizes: [Int] = []
        for count in boundaryFloats where sizes.reduce(count, +) * 4 <= reserveBudgetBytes {
            sizes.append(count)
        }
        memory.reserve(counts: sizes, isCancelled: { Task.isCancelled })
    }

    /// Saves, for the last requested plan, a boundary at every layer after the first that has none
    /// for that plan's prefix, so that the next edit of any of those layers resumes at it: one pass
    /// from the latest cut that matches, into memory reserved (mapped and touched) first. The engine
    /// calls this while idle, after its prefetches; a cancelled call keeps the memory it reserved and
    /// nothing of its pass.
    public func extendBoundaries() throws {
        guard let plan = lastPlan, !plan.isAllFloat, reference != nil else { return }
        let missing = plan.choices.indices.dropFirst().filter { layer in
            !boundaries.contains { $0.layer == layer && plan.choices[..<layer] == $0.prefix }
        }
        guard !missing.isEmpty else { return }
        guard memory.reserve(counts: missing.map { boundaryFloats[$0] }, isCancelled: { Task.isCancelled }) else {
            throw CancellationError()
        }
        let (scored, _) = try pass(plan, saveAt: missing, reservedOnly: true, resumeAtMost: missing[0],
                                   progress: { _, _ in })
        if memo[plan] == nil, case .tally(let tally) = scored { remember(plan, tally) }
    }

    /// Test hook: bytes mapped for boundaries (in use and free) and the free slabs' capacities.
    public var boundaryMemory: (mappedBytes: Int, freeCapacities: [Int]) { (memory.mappedBytes, memory.freeCapacities) }

    /// The Fisher diagonal `lut` choices use (computed now if it was not yet; nil when disabled).
    public func fisherDiagonal() throws -> FisherDiagonal? { try weights.fisherDiagonal() }

    /// The quantization stats of one layer under one choice (cached; no forward pass).
    public func layerQuantization(layer: Int, choice: LayerChoice) throws -> LayerQuantization {
        guard let spec = choice.weights else { return .float(parameters: model.layers[layer].parameterCount) }
        return try weights.entry(layer: layer, spec: spec).result
    }

    /// Evaluates `plan`. `progress(done, total)` is called after each batch (total = batch count).
    /// - Throws: `CancellationError` when the calling task is cancelled (nothing is published and no
    ///   cache is left inconsistent); `QScopeError` for a choice the engine cannot apply.
    public func evaluate(_ plan: Plan, progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> PlanEvaluation {
        try evaluate(plan, speculative: false, progress: progress)
    }

    /// `speculative`: a prefetch, which leaves `lastPlan` (the user's plan) as it is.
    private func evaluate(_ plan: Plan, speculative: Bool, progress: @Sendable (Int, Int) -> Void) throws -> PlanEvaluation {
        guard plan.layerNames == model.layers.map(\.name) else {
            throw QScopeError(file: model.path, "the plan is for another model")
        }
        let start = DispatchTime.now().uptimeNanoseconds
        for (i, choice) in plan.choices.enumerated() where choice.activations != nil || choice.split != nil {
            throw QScopeError("layer '\(plan.layerNames[i])': activation quantization and splitting are not supported yet")
        }
        let layerStats = try plan.choices.enumerated().map { try layerQuantization(layer: $0.offset, choice: $0.element) }
        if reference == nil {
            // The FP32 pass, once: the reference outputs, and a boundary at every layer (all-float
            // prefixes), so that the first edit of any layer of the opened plan resumes there.
            let float = Plan(layerNames: plan.layerNames)
            let silent: @Sendable (Int, Int) -> Void = { _, _ in }
            let outputs = try referencePass(float, saveAt: Array(plan.choices.indices), progress: plan.isAllFloat ? progress : silent)
            let fp32 = FidelityReference(layout: scoring.layout, outputs: outputs, labels: dataset.labels)
            reference = (fp32, fp32.selfTally)
        }
        // Save a cut at the first layer that changed: the next edit most likely touches it again.
        // With an idle worker reserving memory, only into reserved memory: a fresh mapping's page
        // faults can cost more than the pass, and the idle work (`extendBoundaries`) saves it later.
        let firstChange = lastPlan.flatMap { plan.firstDifference(from: $0) }
        if !speculative { lastPlan = plan }
        var tally: FidelityTally?
        var resumed = plan.count
        if let known = memo[plan] {
            tally = known
            progress(batches.count, batches.count)
        } else if !plan.isAllFloat {
            let (scored, from) = try pass(plan, saveAt: firstChange.map { [$0] } ?? [], reservedOnly: hasIdleWorker,
                                          progress: progress)
            guard case .tally(let passTally) = scored else { preconditionFailure("a pass after the reference is tallied") }
            (tally, resumed) = (passTally, from)
            remember(plan, passTally)
        }
        let (fp32, fp32Tally) = reference!
        let scored = tally ?? fp32Tally
        let labelled = fp32.labels != nil
        return PlanEvaluation(
            plan: plan, samples: dataset.count, metrics: scored.metrics(reference: fp32),
            referenceMetrics: fp32Tally.metrics(reference: fp32), headline: scoring.headline,
            correct: labelled ? scored.correct : nil, agreement: scored.agreeing, positions: scored.positions,
            referenceCorrect: labelled ? fp32Tally.correct : nil,
            layers: layerStats, size: PlanSize(layerStats),
            referenceSize: PlanSize(model.layers.indices.map { .float(parameters: model.layers[$0].parameterCount) }),
            seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, resumedAtLayer: resumed)
    }

    private func remember(_ plan: Plan, _ tally: FidelityTally) {
        memo[plan] = tally
        memoOrder.append(plan)
        if memoOrder.count > Self.memoCapacity { memo[memoOrder.removeFirst()] = nil }
    }

    /// Evaluates `plan` ahead of need (the engine calls this while idle for the edits the user is
    /// likely to make next); the result is kept, so evaluating the plan later costs no pass.
    /// It saves a boundary where `plan` differs from the last requested plan (the user's), and
    /// leaves that plan as the reference for the next edit's cut.
    public func prefetch(_ plan: Plan) throws {
        _ = try evaluate(plan, speculative: true, progress: { _, _ in })
    }

    /// Test hook: whether `plan`'s result is cached.
    public func isCached(_ plan: Plan) -> Bool { memo[plan] != nil || plan.isAllFloat && reference != nil }

    /// A pass that uses and fills the prefix cache: resumes at the latest saved cut whose prefix
    /// matches `plan`, and saves the boundary values at each layer of `saveAt` that lies after it
    /// (and is not cached yet). Returns the pass's result (the outputs before the reference exists,
    /// a tally against it after) and the layer it resumed at (0 = full pass).
    /// With `reservedOnly`, only the layers for which `memory` has a free slab are saved; with
    /// `resumeAtMost`, the pass resumes at that layer or before.
    private func pass(_ plan: Plan, saveAt requested: [Int], reservedOnly: Bool = false, resumeAtMost: Int? = nil,
                      progress: @Sendable (Int, Int) -> Void) throws -> (PassResult, Int) {
        useCounter += 1
        var resume: Int?
        for (i, boundary) in boundaries.enumerated()
        where plan.choices[..<boundary.layer] == boundary.prefix && boundary.layer <= (resumeAtMost ?? Int.max) {
            if resume == nil || boundary.layer > boundaries[resume!].layer { resume = i }
        }
        let resumeLayer = resume.map { boundaries[$0].layer } ?? 0
        var saveLayers = Set(requested).sorted().filter { layer in
            layer > resumeLayer || (resume == nil && layer == 0 && layerSteps[0] > 0)
        }.filter { layer in
            !boundaries.contains { $0.layer == layer && plan.choices[..<layer] == $0.prefix }
        }
        if let resume { boundaries[resume].lastUse = useCounter }
        let resumed = resume.map { boundaries[$0] }
        if reservedOnly {
            let available = saveLayers.map { memory.takeFree(count: boundaryFloats[$0]) }
            saveLayers = zip(saveLayers, available).compactMap { $1 == nil ? nil : $0 }
            for case let slab? in available { memory.give(slab) }
        }
        let slabs = saveLayers.map { memory.take(count: boundaryFloats[$0]) }
        let scored: PassResult
        do {
            let layerSteps = self.layerSteps, layouts = boundaryLayouts
            let dataset = self.dataset, batches = self.batches
            scored = try forward(plan, progress: progress) { batch, graph in
                var from = resumed != nil ? layerSteps[resumeLayer] : 0
                if let resumed {
                    for (id, range) in layouts[resumeLayer][batch] {
                        graph.mutableValue(id)!.baseAddress!.update(from: resumed.slab.base + range.lowerBound, count: range.count)
                    }
                } else {
                    Self.setInputs(graph, dataset: dataset, range: batches[batch])
                }
                for (slot, layer) in saveLayers.enumerated() {
                    let cut = layerSteps[layer]
                    graph.run(steps: from..<cut)
                    for (id, range) in layouts[layer][batch] {
                        (slabs[slot].base + range.lowerBound).update(from: graph.mutableValue(id)!.baseAddress!, count: range.count)
                    }
                    from = cut
                }
                graph.run(steps: from..<graph.stepCount)
            }
        } catch {
            for slab in slabs { memory.give(slab) }
            throw error
        }
        for (slot, layer) in saveLayers.enumerated() {
            boundaries.append(Boundary(layer: layer, prefix: plan.choices[..<layer], slab: slabs[slot], lastUse: useCounter))
        }
        while boundaries.reduce(0, { $0 + $1.bytes }) > boundaryBudgetBytes, boundaries.count > 1,
              let oldest = boundaries.indices.min(by: { boundaries[$0].lastUse < boundaries[$1].lastUse }) {
            memory.give(boundaries.remove(at: oldest).slab)
        }
        return (scored, resumeLayer)
    }

    /// The FP32 pass (no reference yet): its first output of every sample, saving boundaries at `saveAt`.
    private func referencePass(_ plan: Plan, saveAt: [Int], progress: @Sendable (Int, Int) -> Void) throws -> [Float] {
        guard case .outputs(let outputs) = try pass(plan, saveAt: saveAt, progress: progress).0 else {
            preconditionFailure("the reference pass collects outputs")
        }
        return outputs
    }

    /// What a pass yields: before the reference exists, the outputs of every sample (the reference
    /// itself); after, the tally of the outputs against it.
    private enum PassResult {
        case outputs([Float])
        case tally(FidelityTally)
    }

    /// Test hook: the layers with a saved boundary, ascending (duplicates when prefixes differ).
    public var cachedBoundaryLayers: [Int] { boundaries.map(\.layer).sorted() }

    /// Runs every batch with `plan`'s weights substituted, `lanes` batches at a time; `runBatch`
    /// does the pass of one batch on a graph of its size that no other lane is using, and must only
    /// write memory of its own batch. Checks cancellation before each batch.
    ///
    /// Only the calling thread can see its task's cancellation, and the engine's progress closure
    /// checks it too: so the calling thread checks it before each of its batches and tells the other
    /// lanes through `stop`, and progress is reported only from the calling thread (with every
    /// lane's batches counted).
    private func forward(_ plan: Plan, progress: @Sendable (Int, Int) -> Void,
                         runBatch: (Int, CompiledGraph) -> Void) throws -> PassResult {
        try Task.checkCancellation()
        for case let graph in graphs.values.joined() { try apply(plan, to: graph) }
        let graphs = self.graphs, batches = self.batches, reference = self.reference?.outputs
        let size = scoring.layout.sampleSize
        // Before the reference exists the outputs are collected; after, each batch is tallied into
        // its own slot and the slots merged in batch order (sums independent of the lanes).
        var outputs = reference == nil ? [Float](repeating: 0, count: dataset.count * size) : []
        var tallies = [FidelityTally](repeating: FidelityTally(), count: reference == nil ? 0 : batches.count)
        var faults = [QScopeError?](repeating: nil, count: batches.count)
        let caller = pthread_self()
        let stop = Atomic<Bool>(false)
        let done = Atomic<Int>(0)
        let idle = Mutex(graphs.mapValues { Array($0.indices) })
        var reported = 0  // written by the calling thread only
        outputs.withUnsafeMutableBufferPointer { collected in
            tallies.withUnsafeMutableBufferPointer { tallied in
                faults.withUnsafeMutableBufferPointer { faulted in
                    Parallel.forEach(batches.count, threads: lanes) { b in
                        let onCaller = pthread_equal(pthread_self(), caller) != 0
                        if onCaller && Task.isCancelled { stop.store(true, ordering: .relaxed) }
                        if stop.load(ordering: .relaxed) { return }
                        let range = batches[b]
                        let index = idle.withLock { $0[range.count]!.removeLast() }
                        let graph = graphs[range.count]![index]
                        runBatch(b, graph)
                        if let fault = graph.takeRuntimeFault() {
                            faulted[b] = fault
                            stop.store(true, ordering: .relaxed)
                        }
                        let out = graph.output(0).baseAddress!
                        if let reference {
                            tallied[b].add(outputs: out, first: range.lowerBound, count: range.count, reference: reference)
                        } else {
                            (collected.baseAddress! + range.lowerBound * size).update(from: out, count: range.count * size)
                        }
                        idle.withLock { $0[range.count]!.append(index) }
                        let finished = done.wrappingAdd(1, ordering: .relaxed).newValue
                        if onCaller {
                            progress(finished, batches.count)
                            reported = finished
                        }
                    }
                }
            }
        }
        if let fault = faults.compactMap({ $0 }).first { throw fault.inFile(model.path) }
        if stop.load(ordering: .relaxed) || Task.isCancelled { throw CancellationError() }
        if reported < batches.count { progress(batches.count, batches.count) }
        passes += 1
        guard reference != nil else { return .outputs(outputs) }
        var total = FidelityTally()
        for tally in tallies { total.merge(tally) }
        return .tally(total)
    }

    /// Copies the samples of `range` of every input array into `graph`'s inputs.
    private static func setInputs(_ graph: CompiledGraph, dataset: Dataset, range: Range<Int>) {
        dataset.withInputs(from: range.lowerBound) { graph.setInputs($0) }
    }

    /// Substitutes the plan's weights (and replacement biases) into `graph`, touching only layers
    /// whose choice changed since the last call for this graph.
    private func apply(_ plan: Plan, to graph: CompiledGraph) throws {
        let key = ObjectIdentifier(graph)
        var current = applied[key] ?? Array(repeating: nil, count: plan.count)
        for (i, choice) in plan.choices.enumerated() where current[i] != choice {
            let layer = model.layers[i]
            if let spec = choice.weights {
                let entry = try weights.entry(layer: i, spec: spec)
                graph.substitute(layer.weight, with: UnsafePointer(entry.weights.baseAddress!))
                if let bias = layer.bias { graph.substitute(bias, with: entry.bias.map { UnsafePointer($0.baseAddress!) }) }
            } else {
                graph.substitute(layer.weight, with: nil)
                if let bias = layer.bias { graph.substitute(bias, with: nil) }
            }
            current[i] = choice
        }
        applied[key] = current
    }
}
