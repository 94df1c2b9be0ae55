import Executor
import Kernels

/// The workbench's Compare view worker: every quantizer family at one bit-width on one layer (the
/// other layers FP32, exactly the rows of `qscope compare --layer`), one row at a time, off the UI
/// thread.
///
/// - Latest wins (a `LatestWinsJob`): `start` cancels the comparison running before it; a cancelled
///   comparison publishes nothing after its cancellation (every event goes through the job's
///   generation gate), so a row of an old layer can never land in a new table. `cancel` stops it
///   when the user leaves the view. Cancellation takes effect between rows (a row's
///   quantize-and-evaluate is not interrupted, ~1 s on the sample models), and the next comparison
///   starts only after the old one has stopped.
/// - Rows run in order, each on all cores (`row` gets the thread count), and are published as they
///   finish, so the table fills in row by row.
/// - The heavy pieces are computed once and kept: the FP32 baseline (its outputs, the reference
///   every row is scored against) and the Fisher diagonal for `lut` rows (the `PlanEvaluator`'s, so the Compare view and
///   the plan evaluation weight the same way).
public actor LayerCompareEngine {
    /// Computes one row: spec, layer index, thread count.
    public typealias RowFunction = @Sendable (QuantizerSpec, Int) async throws -> QuantizerComparison.Row

    private let specs: @Sendable (Int) throws -> [QuantizerSpec]
    private let row: RowFunction
    private let comparisons: LatestWinsJob<CompareEvent>

    /// - Parameters:
    ///   - specs: the specs for a bit-width (default `QuantizerComparison.specs(bits:)`).
    ///   - row: computes one row (tests inject a stand-in).
    ///   - post: called from the engine's task (any thread) with each event.
    public init(specs: @escaping @Sendable (Int) throws -> [QuantizerSpec] = { try QuantizerComparison.specs(bits: $0) },
                row: @escaping RowFunction, post: @escaping @Sendable (CompareEvent) -> Void) {
        self.specs = specs
        self.row = row
        self.comparisons = LatestWinsJob(failure: { generation, message in
            .failed(generation: generation, message: message)
        }, post: post)
    }

    /// An engine on the evaluator's model and data: rows by `QuantizerComparison` (batches of
    /// `batch`), `lut` weighted by the evaluator's Fisher diagonal.
    public init(evaluator: PlanEvaluator, batch: Int = 256, threads: Int = Parallel.maxThreads,
                post: @escaping @Sendable (CompareEvent) -> Void) {
        let shared = SharedComparison(evaluator: evaluator, batch: batch)
        self.init(row: { spec, layer in
            try await shared.row(spec, layer: layer, threads: threads)
        }, post: post)
    }

    /// Starts comparing layer `layer` at `bits` as request `generation`, cancelling the previous
    /// request; an older generation than one already started is ignored.
    public func start(layer: Int, bits: Int, generation: UInt64) {
        let (specs, row) = (self.specs, self.row)
        comparisons.submit(generation: generation) { job in
            let list = try specs(bits)
            job.post(.started(generation: generation, layer: layer, bits: bits, quantizers: list.map(\.description)))
            for (index, spec) in list.enumerated() {
                try job.checkCancellation()
                let result = try await row(spec, layer)
                job.post(.row(generation: generation, index: index, result))
            }
            job.post(.finished(generation: generation))
        }
    }

    /// Stops the running comparison; it publishes nothing more.
    public func cancel() { comparisons.cancel() }

    /// Waits until the current comparison has finished or stopped; for tests.
    public func settle() async { await comparisons.settle() }
}

/// The comparison, its FP32 baseline and the Fisher diagonal, made on first use and kept.
private actor SharedComparison {
    let evaluator: PlanEvaluator
    let batch: Int
    /// Without and with the Fisher diagonal (the latter made on the first `lut` row, so the other
    /// rows never wait for the gradient pass).
    private var plain: QuantizerComparison?
    private var weighted: QuantizerComparison?
    private var baseline: QuantizerComparison.Baseline?

    init(evaluator: PlanEvaluator, batch: Int) {
        self.evaluator = evaluator
        self.batch = batch
    }

    func row(_ spec: QuantizerSpec, layer: Int, threads: Int) async throws -> QuantizerComparison.Row {
        let model = evaluator.model
        guard model.layers.indices.contains(layer) else { throw QScopeError("no layer \(layer)") }
        let comparison: QuantizerComparison
        if spec.usesSensitivity {
            if weighted == nil {
                let fisher = try await evaluator.fisherDiagonal()
                weighted = QuantizerComparison(model: model, dataset: evaluator.dataset, batch: batch, fisher: fisher)
            }
            comparison = weighted!
        } else {
            if plain == nil { plain = QuantizerComparison(model: model, dataset: evaluator.dataset, batch: batch) }
            comparison = plain!
        }
        if baseline == nil { baseline = try comparison.baseline() }
        try Task.checkCancellation()
        return try comparison.row(spec, layers: [model.layers[layer]], baseline: baseline!, threads: threads)
    }
}
