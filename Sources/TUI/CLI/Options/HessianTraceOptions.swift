import Analysis
import ArgumentParser

/// The Hutchinson trace options shared by `analyze`, `search` and `pareto`.
struct HessianTraceOptions: ParsableArguments {
    @Option(name: .long, help: "Use the first N samples of the data for the Hessian (traces and eigenvalues; default 512, or all when there are fewer).")
    var hessianSamples: Int?

    @Option(name: .long, help: "Maximum number of Hutchinson probes.")
    var probes: Int = 200

    @Option(name: .long, help: "Stop the probes when every layer's standard error is below this fraction of its trace (0: run all).")
    var tolerance: Double = 0.02

    @Option(name: .long, help: "Seed of the Rademacher probes (and of the power iteration's start vectors).")
    var seed: UInt64 = 0

    /// The first problem with the options, as the message to report, or nil.
    func problem() -> String? {
        if let problem = belowMinimum(1, hessianSamples, "--hessian-samples") ?? belowMinimum(1, probes, "--probes") { return problem }
        if tolerance < 0 || !tolerance.isFinite { return "--tolerance must be a number >= 0" }
        return nil
    }

    /// The estimator's settings for `dataset` (its first `--hessian-samples`, default 512 or all).
    func settings(samplesOf dataset: Dataset) -> HessianOptions {
        var settings = HessianOptions()
        settings.samples = hessianSamples ?? HessianOptions.defaultSamples(for: dataset.count)
        settings.maxProbes = probes
        settings.minProbes = min(32, probes)
        settings.tolerance = tolerance
        settings.seed = seed
        return settings
    }
}
