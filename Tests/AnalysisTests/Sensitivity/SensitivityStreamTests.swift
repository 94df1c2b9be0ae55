import Executor
import Foundation
import Testing
import Analysis

/// `SensitivityAnalysis.updates`: each part's per-layer results arrive as they are computed, in
/// part order, equal to the direct computation, and the stream ends with the whole report.
@Suite("sensitivity updates")
struct SensitivityStreamTests {
    @Test func updatesArriveInOrderAndEqualTheReport() async throws {
        let (model, data, _) = try SensitivityFixtureTests.load()
        var options = SensitivityOptions()
        options.parts = [.activations, .outliers, .eigen, .drop]
        options.calibrationSamples = 64
        options.hessian.samples = 32
        options.eigen.maxIterations = 5
        options.evaluationLimit = 200
        var updates: [SensitivityUpdate] = []
        for await update in SensitivityAnalysis.updates(model: model, data: data, options: options) { updates.append(update) }
        let layers = model.layers.count
        let completedReport: SensitivityReport? = if case .completed(let report) = updates.last { report } else { nil }
        let report = try #require(completedReport, "the stream did not end with .completed: \(String(describing: updates.last))")
        #expect(!report.cancelled && report.hessian == nil)
        // Outliers first (no pass), then activations, eigenvalues, accuracies; each bracketed.
        var expected: [String] = []
        for part in [SensitivityPart.outliers, .activations, .eigen, .drop] {
            expected.append("started \(part)")
            expected += Array(repeating: "\(part)", count: layers)
            expected.append("finished \(part)")
        }
        expected.append("completed")
        let seen = updates.map { update -> String in
            switch update {
            case .started(let part): return "started \(part)"
            case .finished(let part, _): return "finished \(part)"
            case .outliers: return "outliers"
            case .activations: return "activations"
            case .eigenvalue: return "eigen"
            case .accuracy: return "drop"
            case .hessian: return "hessian"
            case .completed: return "completed"
            case .failed(let message): return "failed \(message)"
            }
        }
        #expect(seen == expected)
        let streamedActivations = updates.compactMap { u -> ActivationStatistics? in if case .activations(_, let s) = u { return s }; return nil }
        #expect(streamedActivations == report.activations)
        #expect(report.activations == (try ActivationStatistics.compute(model: model, calibration: data.prefix(64))))
        #expect(report.outliers == (try OutlierClusters.compute(model: model)))
        let streamedAccuracy = updates.compactMap { u -> LayerAccuracy? in if case .accuracy(_, let a) = u { return a }; return nil }
        #expect(streamedAccuracy == report.accuracy && report.evaluationSamples == 200)
        for a in report.accuracy ?? [] {
            #expect(a.accuracy.keys.sorted() == [2, 4] && a.samples == 200)
            // 4-bit per-channel weights cost little on one layer; 2-bit costs more.
            #expect(abs(a.drop[4]!) < 0.03 && a.drop[2]! > a.drop[4]!, "\(a.name): \(a.accuracy)")
        }
        #expect(report.eigenvalues?.allSatisfy { $0.iterations <= 5 } == true)
    }

    @Test func badSettingsFailBeforeAnyPartRuns() throws {
        let (model, data, _) = try SensitivityFixtureTests.load()
        var options = SensitivityOptions()
        options.parts = [.outliers, .hessian]
        options.hessian.samples = data.count + 1
        var posted = 0
        #expect(throws: QScopeError.self) {
            _ = try SensitivityAnalysis.run(model: model, data: data, options: options, post: { _ in posted += 1 })
        }
        #expect(posted == 0)
    }

    @Test func cancellingStopsBetweenParts() throws {
        let (model, data, _) = try SensitivityFixtureTests.load()
        var options = SensitivityOptions()
        options.parts = [.outliers, .activations]
        options.calibrationSamples = 32
        var seen = 0
        let report = try SensitivityAnalysis.run(model: model, data: data, options: options, post: { update in
            if case .outliers = update { seen += 1 }
        }, isCancelled: { seen >= 1 })
        #expect(report.cancelled && report.activations == nil && report.outliers == nil)
    }
}
