import Analysis
import ArgumentParser
import Executor

/// The candidate and Hessian options shared by `search` and `pareto`.
struct SearchCandidateOptions: ParsableArguments {
    @Option(name: .long, help: "Candidate weight bit-widths, comma-separated (2...16).")
    var bits: String = "2,3,4,6,8"

    @Option(name: .long, help: "Quantizer family with the width open: intB (default), intB:asym, intB:group=64, fp, pot, lutB, powB, split3:intB.")
    var family: String = "intB"

    @OptionGroup var hessian: HessianTraceOptions

    /// The workbench's default, so that the plan's accuracy is what `eval --plan` and the screen show.
    @Option(name: .long, help: "Samples per forward pass of the evaluations.")
    var batch: Int = PlanEvaluator.defaultBatchSize

    /// The bit widths and the family, checked against each other (one line on error).
    func candidates() throws -> ([Int], QuantizerFamilyTemplate) {
        let widths = try BitWidthList.parse(bits)
        return (widths, try QuantizerFamilyTemplate(family, bitWidths: widths))
    }

    /// Checks the numeric options (thrown as `QScopeError` so that the report is one line).
    func check() throws {
        if let problem = hessian.problem() ?? belowMinimum(1, batch, "--batch") { throw QScopeError(problem) }
    }

    /// Per-layer Hessian traces (nothing is cached on disk).
    func traces(model: Model, dataset: Dataset) throws -> HessianReport {
        try HessianTraceEstimator.run(model: model, data: dataset, options: hessian.settings(samplesOf: dataset))
    }
}
