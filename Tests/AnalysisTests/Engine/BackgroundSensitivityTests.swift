import Executor
import Foundation
import Synchronization
import TestSupport
import Testing
import Analysis

/// The workbench's background sensitivity driver on the sample MLP (few samples and probes, so each
/// test takes about a second): it streams every layer's clusters and activation statistics, then the
/// estimator's partial results and the same final numbers a direct run gives; it waits while an
/// evaluation is pending, and posts nothing once cancelled.
@Suite("background sensitivity")
struct BackgroundSensitivityTests {
    final class Recorder: Sendable {
        let events = Mutex<[SensitivityEvent]>([])
        func post(_ event: SensitivityEvent) { events.withLock { $0.append(event) } }
        var all: [SensitivityEvent] { events.withLock { $0 } }
        var reports: [HessianReport] {
            all.compactMap { event -> HessianReport? in if case .hessian(let report) = event { return report } else { return nil } }
        }
    }

    static func load() throws -> (Model, Dataset) { try BundledSamples.load("mlp") }

    static var options: HessianOptions {
        var options = BackgroundSensitivity.workbenchOptions(sampleCount: 2000)
        options.samples = 32
        options.maxProbes = 8
        options.minProbes = 8
        options.probeBatch = 2
        options.tolerance = 0
        options.seed = 7
        return options
    }

    @Test("workbench settings: the trace defaults, at most the data's samples, one thread")
    func workbenchOptions() {
        let options = BackgroundSensitivity.workbenchOptions(sampleCount: 300)
        #expect(options.samples == 300)
        #expect(BackgroundSensitivity.workbenchOptions(sampleCount: 2000).samples == 512)
        #expect(options.maxProbes == 200 && options.minProbes == 32 && options.tolerance == 0.02)
        #expect(options.threads == 1)
    }

    @Test("streams a partial estimate per probe batch, then the final one equal to a direct run")
    func streamsPartialResults() throws {
        let (model, data) = try Self.load()
        let recorder = Recorder()
        let analysis = BackgroundSensitivity(model: model, data: data, options: Self.options, calibrationSamples: 64,
                                             niceness: 0) { recorder.post($0) }
        analysis.start()
        analysis.waitUntilFinished()
        let layers = model.layers.count
        let events = recorder.all
        let outliers = events.compactMap { event -> (Int, OutlierClusters)? in
            if case .outliers(let l, let c) = event { return (l, c) } else { return nil }
        }
        let activations = events.compactMap { event -> (Int, ActivationStatistics)? in
            if case .activations(let l, let a) = event { return (l, a) } else { return nil }
        }
        #expect(outliers.map(\.0) == Array(0..<layers))
        #expect(activations.map(\.0) == Array(0..<layers))
        #expect(activations.allSatisfy { $0.1.samples == 64 })
        #expect(outliers.map(\.1) == (try OutlierClusters.compute(model: model)))
        // Cheap parts first: every cluster and statistic arrives before the first trace.
        let firstTrace = try #require(events.firstIndex { event -> Bool in if case .hessian = event { return true } else { return false } })
        let lastCheap = try #require(events.lastIndex { event -> Bool in if case .activations = event { return true } else { return false } })
        #expect(lastCheap < firstTrace)
        let started = try #require(events.first.flatMap { event -> (samples: Int, maxProbes: Int, tolerance: Double)? in
            if case .started(let samples, let maxProbes, let tolerance) = event { return (samples, maxProbes, tolerance) } else { return nil }
        }, "first event is not .started: \(events)")
        #expect(started.samples == 32 && started.maxProbes == 8 && started.tolerance == 0)
        let reports = recorder.reports
        #expect(reports.map(\.probes) == [2, 4, 6, 8, 8])
        #expect(reports.dropLast().allSatisfy { $0.partial })
        #expect(reports.last?.partial == false)
        let direct = try HessianTraceEstimator.run(model: model, data: data, options: Self.options)
        #expect(reports.last?.layers == direct.layers)
    }

    @Test("while an evaluation is pending it waits between batches, and resumes after")
    func yieldsToEvaluations() throws {
        let (model, data) = try Self.load()
        let recorder = Recorder()
        let analysis = BackgroundSensitivity(model: model, data: data, options: Self.options, niceness: 0) { recorder.post($0) }
        analysis.setEvaluationPending(true)
        analysis.start()
        // Parked before its first step; it stays parked (no timer involved) until released.
        #expect(analysis.waitUntilWaitingForEvaluation())
        #expect(analysis.isWaitingForEvaluation)
        #expect(recorder.all.isEmpty)
        #expect(!analysis.isFinished)
        analysis.setEvaluationPending(false)
        analysis.waitUntilFinished()
        #expect(recorder.reports.last?.probes == 8)
        #expect(recorder.reports.last?.partial == false)
    }

    @Test("cancelled while waiting: it stops and posts nothing more")
    func cancelPostsNothing() throws {
        let (model, data) = try Self.load()
        let recorder = Recorder()
        let analysis = BackgroundSensitivity(model: model, data: data, options: Self.options, niceness: 0) { recorder.post($0) }
        analysis.setEvaluationPending(true)
        analysis.start()
        #expect(analysis.waitUntilWaitingForEvaluation())
        analysis.cancel()
        analysis.waitUntilFinished()
        #expect(recorder.all.isEmpty)
    }

    @Test("bad settings fail with one message instead of trapping")
    func failure() throws {
        let (model, data) = try Self.load()
        var options = Self.options
        options.samples = data.count + 1
        let recorder = Recorder()
        let analysis = BackgroundSensitivity(model: model, data: data, options: options, niceness: 0) { recorder.post($0) }
        analysis.start()
        analysis.waitUntilFinished()
        let message = try #require(recorder.all.last.flatMap { event -> String? in
            if case .failed(let message) = event { return message } else { return nil }
        }, "no .failed event: \(recorder.all)")
        #expect(message.contains("larger than the data"))
    }
}
