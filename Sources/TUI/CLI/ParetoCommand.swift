import Analysis
import ArgumentParser
import Executor

struct ParetoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pareto",
        abstract: "Accuracy against size: every distinct HAWQ-optimal plan over all budgets and the uniform plans, with the non-dominated front.",
        discussion: """
            Sizes count the quantizable layers' weights with all metadata (MB of 2^20 bytes). The HAWQ plans \
            come from one dynamic program over every budget (whole bytes); each distinct plan is evaluated on \
            the data. Uniform points: every layer at the same candidate width.
            """
    )

    @OptionGroup var options: ModelOptions

    @OptionGroup var output: OutputOptions

    @OptionGroup var metric: MetricOptions

    @Option(name: .long, help: "Evaluate at most N of the distinct HAWQ plans, evenly spaced in size, smallest and largest kept (default: all).")
    var maxPlans: Int?

    @OptionGroup var candidateOptions: SearchCandidateOptions

    func run() async throws {
        try await reportingErrors {
            try output.print(try await sweep())
        }
    }

    private func sweep() async throws -> ParetoReport {
        try candidateOptions.check()
        if let maxPlans, maxPlans < 2 { throw QScopeError("--max-plans must be at least 2, got \(maxPlans)") }
        let (widths, family) = try candidateOptions.candidates()
        let (model, dataset) = try options.load()
        let report = try candidateOptions.traces(model: model, dataset: dataset)
        let layers = try CandidateBuilder.build(model: model, bitWidths: widths, family: family,
                                                tracesPerParameter: report.layers.map(\.tracePerParameter))
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: candidateOptions.batch, metric: metric.metric)
        let result = try await ParetoSweep.run(problem: AllocationProblem(layers: layers), evaluator: evaluator, maxHAWQPlans: maxPlans)
        return ParetoReport(
            model: model.path, data: dataset.source, samples: dataset.count,
            points: result.points.map { point in
                ParetoReport.Point(
                    source: point.source.rawValue, onFront: point.onFront, averageBits: point.evaluation.size.averageTotalBits,
                    sizeMB: point.evaluation.size.totalMB, totalBits: point.totalBits, accuracy: point.evaluation.accuracy,
                    value: point.evaluation.score, omega: point.omega,
                    layers: Dictionary(uniqueKeysWithValues: zip(point.plan.layerNames, point.plan.choices.map { $0.weights?.description ?? "float" })))
            },
            distinctHAWQPlans: result.distinctPlans, evaluatedHAWQPlans: result.points.filter { $0.source == .hawq }.count,
            resolutionBits: result.resolutionBits, probes: report.probes, hessianSeconds: report.seconds,
            sweepSeconds: result.seconds, bits: widths, family: family.text,
            fp32Accuracy: result.points.first?.evaluation.referenceAccuracy, metric: evaluator.scoring.headline)
    }
}
