import Executor
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the per-layer sensitivity analysis behind the workbench without getting in the way of plan
/// evaluations: `SensitivityAnalysis.run` with the parts the screen shows, cheapest first — weight
/// outlier clusters (no pass), input activation statistics (two forward passes over the calibration
/// samples) and Hutchinson traces (`HessianTraceEstimator`, minutes on a sample CNN).
///
/// - Own thread: the estimator is synchronous and CPU-bound for seconds to minutes, so it runs on a
///   dedicated `Thread`, never on Swift's cooperative pool (2 threads here; blocking one would stall
///   the engine's tasks).
/// - One core, low priority: the Hessian estimator runs single-threaded (`threads = 1`, so it never
///   takes the kernels' shared worker pool, which would make a concurrent evaluation run serially)
///   and the thread lowers its own scheduling priority (nice `niceness`), so an evaluation running at
///   the same time gets most of both cores. (The activation passes use the pool; they take well
///   under a second on the sample models.)
/// - Yields to evaluations: while `setEvaluationPending(true)` is in force the analysis waits
///   between batches (it is asked `isCancelled` between activation batches and before each probe
///   batch; that call blocks here), so a pending evaluation is delayed by at most the rest of one
///   batch, and then only at low priority.
/// - Streams: each layer's clusters and activation statistics as they exist, then each probe
///   batch's estimate as `.hessian(report)` with `report.partial == true`; the last one has
///   `partial == false`. After `cancel()` nothing more is posted.
public final class BackgroundSensitivity: @unchecked Sendable {
    // @unchecked: `pending`, `cancelled` and `started` are guarded by `condition`; the rest is immutable.
    private let model: Model
    private let data: Dataset
    public let options: HessianOptions
    /// Samples the activation statistics are taken on (the first N of the data).
    public let calibrationSamples: Int
    private let niceness: Int32
    private let post: @Sendable (SensitivityEvent) -> Void
    private let condition = NSCondition()
    private var pending = false
    private var cancelled = false
    private var started = false
    private var waiting = false
    private var finished = false

    /// The settings the workbench uses: the estimator's defaults (512 samples or all there are,
    /// tolerance 2 %, 32 to 200 probes), one thread, small probe batches (a pending evaluation waits
    /// at most one batch) and a 256 MiB memory budget for the reverse-mode passes.
    /// `samples`: the first N samples of the data (default 512), at most all of them.
    public static func workbenchOptions(sampleCount: Int, samples: Int? = nil) -> HessianOptions {
        var options = HessianOptions()
        options.samples = max(1, min(samples ?? options.samples, sampleCount))
        options.threads = 1
        options.probeBatch = 4
        options.memoryBudgetFloats = 1 << 26
        return options
    }

    /// - Parameters:
    ///   - niceness: added to the thread's nice value (0 keeps the caller's priority; tests use 0).
    ///   - post: called on the analysis thread with each event.
    public init(model: Model, data: Dataset, options: HessianOptions, calibrationSamples: Int = 512, niceness: Int32 = 10,
                post: @escaping @Sendable (SensitivityEvent) -> Void) {
        self.model = model
        self.data = data
        self.options = options
        self.calibrationSamples = max(1, min(calibrationSamples, data.count))
        self.niceness = niceness
        self.post = post
    }

    /// Starts the analysis thread (once; later calls do nothing).
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started, !cancelled else { return }
        started = true
        let thread = Thread { [self] in run() }
        thread.name = "qscope-hessian"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// While `pending` is true the analysis pauses before its next probe batch.
    public func setEvaluationPending(_ pending: Bool) {
        condition.lock()
        self.pending = pending
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the analysis after the current batch; nothing is posted afterwards.
    public func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// True while the analysis thread is held back by a pending evaluation (for tests and the status line).
    public var isWaitingForEvaluation: Bool {
        condition.lock()
        defer { condition.unlock() }
        return waiting
    }

    /// Blocks until the analysis thread is held back by a pending evaluation (true) or has returned
    /// without being held back, or was never started (false); for tests, which thereby need no timing. Once it returns
    /// true the thread stays parked, posting nothing, until `setEvaluationPending(false)` or
    /// `cancel()`.
    public func waitUntilWaitingForEvaluation() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while started && !waiting && !finished { condition.wait() }
        return waiting
    }

    /// True once the thread has returned (finished, failed or cancelled).
    public var isFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return finished
    }

    private func run() {
        if niceness != 0 { Self.lowerThisThreadsPriority(by: niceness) }
        defer {
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        guard !shouldStop() else { return }
        publish(.started(samples: options.samples, maxProbes: options.maxProbes, tolerance: options.tolerance))
        var settings = SensitivityOptions()
        settings.parts = [.outliers, .activations, .hessian]
        settings.hessian = options
        settings.calibrationSamples = calibrationSamples
        settings.batch = 128
        do {
            _ = try SensitivityAnalysis.run(model: model, data: data, options: settings, post: { [self] update in
                switch update {
                case .outliers(let layer, let clusters): publish(.outliers(layer: layer, clusters))
                case .activations(let layer, let statistics): publish(.activations(layer: layer, statistics))
                case .hessian(let report): publish(.hessian(report))
                case .started, .eigenvalue, .accuracy, .finished, .completed, .failed: break
                }
            }, isCancelled: { [self] in shouldStop() })
        } catch {
            publish(.failed(message: QScopeError.message(for: error)))
        }
    }

    /// Called by the estimator before each probe batch: waits while an evaluation is pending, then
    /// says whether to stop.
    private func shouldStop() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while pending && !cancelled {
            if !waiting {
                waiting = true
                // Wakes `waitUntilWaitingForEvaluation`.
                condition.broadcast()
            }
            condition.wait()
        }
        waiting = false
        return cancelled
    }

    /// Posts `event` unless the analysis was cancelled (checked under the lock, so `cancel()` is a
    /// barrier: nothing is posted after it returns).
    private func publish(_ event: SensitivityEvent) {
        condition.lock()
        defer { condition.unlock() }
        guard !cancelled else { return }
        post(event)
    }

    /// Adds `niceness` to the calling thread's nice value. On Linux `setpriority(PRIO_PROCESS, tid)`
    /// acts on one thread; the thread id comes from /proc/thread-self ("<pid>/task/<tid>") because
    /// Glibc's `gettid` is not visible to Swift. Best effort: on failure the thread keeps its priority.
    private static func lowerThisThreadsPriority(by niceness: Int32) {
        var link = [CChar](repeating: 0, count: 64)
        let length = readlink("/proc/thread-self", &link, link.count - 1)
        guard length > 0 else { return }
        let text = String(decoding: link.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let tid = text.split(separator: "/").last.flatMap({ id_t($0) }) else { return }
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = getpriority(which, tid)
        guard errno == 0 else { return }
        _ = setpriority(which, tid, min(19, current + niceness))
    }

    /// Waits until the thread has returned; for tests.
    public func waitUntilFinished() {
        condition.lock()
        while started && !finished { condition.wait() }
        condition.unlock()
    }
}
