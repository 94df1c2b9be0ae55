import Executor
import Foundation
import Kernels
import Synchronization

/// What a sensitivity analysis computes and on which samples.
public struct SensitivityOptions: Sendable {
    /// The parts to run (they always run in `SensitivityPart` order).
    public var parts: Set<SensitivityPart> = Set(SensitivityPart.allCases)
    /// Hutchinson settings (`samples` is also the eigenvalue's sample count).
    public var hessian = HessianOptions()
    /// Power-iteration settings other than the samples (taken from `hessian.samples`).
    public var eigen = EigenvalueOptions()
    /// Activation statistics use the first N samples (clamped to the data).
    public var calibrationSamples = 512
    /// Accuracies use the first N samples of the data; nil = all.
    public var evaluationLimit: Int?
    /// The widths of the single-layer accuracy part.
    public var accuracyBits = SingleLayerAccuracy.defaultBits
    /// Samples per forward pass of the activation part. The accuracy part batches as the
    /// workbench does (`PlanEvaluator.defaultBatchSize`), so that its numbers are the screen's.
    public var batch = 256

    public init() {}
}

/// Runs the requested parts of the per-layer sensitivity analysis one after the other,
/// reporting each result as soon as it exists: outlier clusters (no pass), activation statistics,
/// Hutchinson traces (partial estimates as probes accumulate), top eigenvalues, single-layer accuracies.
public enum SensitivityAnalysis {
    /// Runs the analysis on the calling thread, which it blocks (call it from a thread of your own or
    /// the main thread, never from the cooperative pool: the accuracy part waits for a `PlanEvaluator`).
    ///
    /// - Parameters:
    ///   - evaluator: the accuracy part's evaluator (the workbench passes its own, sharing its caches);
    ///     nil makes one over `data` (first `evaluationLimit` samples).
    ///   - post: receives every `SensitivityUpdate`, ending with `.completed` (not `.failed`: errors are
    ///     thrown).
    ///   - isCancelled: checked between batches and probes; a cancelled run returns the parts done
    ///     so far with `cancelled` set.
    public static func run(model: Model, data: Dataset, options: SensitivityOptions = SensitivityOptions(),
                           evaluator: PlanEvaluator? = nil, post: @escaping (SensitivityUpdate) -> Void = { _ in },
                           isCancelled: @escaping () -> Bool = { false }) throws -> SensitivityReport {
        let start = Date()
        guard !model.layers.isEmpty else { throw QScopeError(file: model.path, "the model has no quantizable layers") }
        var report = SensitivityReport()
        let wanted = options.parts
        if wanted.contains(.hessian) || wanted.contains(.eigen) {
            // Fail on bad settings before any part runs.
            guard options.hessian.samples >= 1 else { throw QScopeError("--hessian-samples must be at least 1") }
            guard options.hessian.samples <= data.count else {
                throw QScopeError(file: data.source, "--hessian-samples \(options.hessian.samples) is larger than the data (\(data.count) samples)")
            }
        }
        func timed(_ part: SensitivityPart, _ body: () throws -> Void) throws {
            post(.started(part))
            let partStart = Date()
            try body()
            let seconds = Date().timeIntervalSince(partStart)
            report.partSeconds[part] = seconds
            post(.finished(part, seconds: seconds))
        }
        do {
            for part in SensitivityPart.allCases where wanted.contains(part) {
                if isCancelled() { throw CancellationError() }
                switch part {
                case .outliers:
                    try timed(part) {
                        report.outliers = try OutlierClusters.compute(model: model, progress: { post(.outliers(layer: $0, $1)) },
                                                                      isCancelled: isCancelled)
                    }
                case .activations:
                    try timed(part) {
                        let calibration = data.prefix(max(1, options.calibrationSamples))
                        let statistics = try ActivationStatistics.compute(model: model, calibration: calibration,
                                                                          batch: options.batch, isCancelled: isCancelled)
                        for (l, s) in statistics.enumerated() { post(.activations(layer: l, s)) }
                        report.activations = statistics
                        report.calibrationSamples = calibration.count
                    }
                case .hessian:
                    try timed(part) {
                        let result = try HessianTraceEstimator.run(model: model, data: data, options: options.hessian,
                                                                   progress: { post(.hessian($0)) }, isCancelled: isCancelled)
                        report.hessian = result
                        if result.partial { throw CancellationError() }
                        post(.hessian(result))
                    }
                case .eigen:
                    try timed(part) {
                        var settings = options.eigen
                        settings.samples = options.hessian.samples
                        report.eigenvalues = try HessianEigenvalueEstimator.run(
                            model: model, data: data, options: settings,
                            progress: { post(.eigenvalue(layer: $0, $1)) }, isCancelled: isCancelled)
                    }
                case .drop:
                    try timed(part) {
                        let limited = options.evaluationLimit.map { data.prefix($0) } ?? data
                        let used = try evaluator ?? PlanEvaluator(model: model, dataset: limited)
                        report.accuracy = try SingleLayerAccuracy.run(evaluator: used, bits: options.accuracyBits,
                                                                      progress: { post(.accuracy(layer: $0, $1)) },
                                                                      isCancelled: isCancelled)
                        report.evaluationSamples = used.dataset.count
                    }
                }
            }
        } catch is CancellationError {
            report.cancelled = true
        }
        report.seconds = Date().timeIntervalSince(start)
        post(.completed(report))
        return report
    }

    /// The same analysis on a thread of its own, as a stream of updates the workbench can consume off
    /// its UI thread: per-part results as they exist, ending with `.completed` or `.failed`. Ending
    /// the iteration (or cancelling the consuming task) cancels the analysis at its next check.
    public static func updates(model: Model, data: Dataset, options: SensitivityOptions = SensitivityOptions(),
                               evaluator: PlanEvaluator? = nil) -> AsyncStream<SensitivityUpdate> {
        let (stream, continuation) = AsyncStream<SensitivityUpdate>.makeStream(bufferingPolicy: .unbounded)
        let cancelled = CancellationFlag()
        continuation.onTermination = { _ in cancelled.set() }
        let thread = Thread {
            do {
                _ = try run(model: model, data: data, options: options, evaluator: evaluator,
                            post: { continuation.yield($0) }, isCancelled: { cancelled.isSet })
            } catch {
                let message = QScopeError.message(for: error)
                continuation.yield(.failed(message: message))
            }
            continuation.finish()
        }
        thread.name = "qscope.sensitivity"
        thread.stackSize = 8 << 20
        thread.start()
        return stream
    }

    /// A flag set once from any thread.
    private final class CancellationFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        func set() { flag.store(true, ordering: .relaxed) }
        var isSet: Bool { flag.load(ordering: .relaxed) }
    }
}
