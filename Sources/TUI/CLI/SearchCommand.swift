import Analysis
import ArgumentParser
import Executor

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Mixed-precision bit allocation under a size budget: HAWQ-V3 (exact) or Greedy MP (measured).",
        discussion: """
            Budgets count every quantizable layer's weights with all metadata (scales, zero points...): \
            --avg-bits is total bits / #weights, --size-mb is in 2^20-byte MB. hawq minimises Σ Ω = \
            Σ trace/#params · ‖Q(W) − W‖² (HAWQ-V2 sensitivity, Hutchinson traces) exactly by dynamic \
            programming over the budget in whole bytes (sizes rounded up, so the plan never exceeds the \
            budget). greedy starts at the widest candidate and lowers, one step at a time, the layer whose \
            measured accuracy loss per saved bit on the data is smallest.
            """
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Budget: average bits per weight, metadata included.")
    var avgBits: Double?

    @Option(name: .long, help: "Budget: size of the quantizable weights in MB (2^20 bytes), metadata included.")
    var sizeMb: Double?

    @Option(name: .long, help: "hawq (exact Ω-minimal allocation) or greedy (Greedy MP on measured accuracy).")
    var method: String = "hawq"

    @Option(name: .shortAndLong, help: "Write the plan here (*.qscope.json), atomically.")
    var output: String?

    @OptionGroup var format: OutputOptions

    @OptionGroup var metric: MetricOptions

    @OptionGroup var candidateOptions: SearchCandidateOptions

    /// The budget from exactly one of --avg-bits and --size-mb.
    func budget() throws -> SizeBudget {
        switch (avgBits, sizeMb) {
        case (nil, nil): throw QScopeError("give a budget: --avg-bits BITS or --size-mb MB")
        case (.some, .some): throw QScopeError("give one budget, not both --avg-bits and --size-mb")
        case (let bits?, nil):
            guard bits.isFinite, bits > 0 else { throw QScopeError("--avg-bits must be a positive number, got \(bits)") }
            return .averageBits(bits)
        case (nil, let mb?):
            guard mb.isFinite, mb > 0 else { throw QScopeError("--size-mb must be a positive number, got \(mb)") }
            return .megabytes(mb)
        }
    }

    func run() async throws {
        try await reportingErrors {
            try format.print(try await search())
        }
    }

    private func search() async throws -> SearchReport {
        let clock = ContinuousClock()
        let start = clock.now
        guard ["hawq", "greedy"].contains(method) else { throw QScopeError("--method must be hawq or greedy, got '\(method)'") }
        let budget = try budget()
        try candidateOptions.check()
        let (widths, family) = try candidateOptions.candidates()
        let (model, dataset) = try options.load()
        var layers = try CandidateBuilder.build(model: model, bitWidths: widths, family: family)
        let budgetBits = try budget.check(against: layers)
        let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: candidateOptions.batch, metric: metric.metric)

        let choices: [Int]
        let evaluation: PlanEvaluation
        var evaluations = 1
        var hawq: SearchReport.HAWQ?
        var greedySteps: Int?
        if method == "hawq" {
            let report = try candidateOptions.traces(model: model, dataset: dataset)
            // The same function the workbench's `a` key runs (HAWQAllocation.swift).
            let allocation = try HAWQAllocation.allocate(candidates: layers,
                                                         tracesPerParameter: report.layers.map(\.tracePerParameter),
                                                         budget: budget)
            layers = try CandidateBuilder.withTraces(layers, report.layers.map(\.tracePerParameter), for: "the search")
            choices = allocation.choices
            evaluation = try await evaluator.evaluate(allocation.plan)
            hawq = SearchReport.HAWQ(resolutionBits: allocation.resolutionBits, probes: report.probes,
                                     hessianSeconds: report.seconds, hessianSamples: report.samples, omega: allocation.omega)
        } else {
            let result = try await GreedyMixedPrecision.run(evaluator: evaluator, layers: layers, budgetBits: budgetBits)
            choices = result.choices
            evaluation = result.evaluation
            evaluations = result.evaluations
            greedySteps = result.steps.count
        }
        let seconds = (clock.now - start).seconds
        let plan = CandidateBuilder.plan(layers, choices: choices)
        if let output { try PlanFile.save(plan, modelPath: model.path, dataPath: dataset.source, to: output) }

        let size = evaluation.size
        return SearchReport(
            method: method, model: model.path, data: dataset.source, samples: evaluation.samples, budget: budget,
            budgetBits: budgetBits, averageBits: size.averageTotalBits, averagePayloadBits: size.averagePayloadBits,
            sizeMB: size.totalMB, payloadMB: size.payloadMB, totalBits: size.totalBits, accuracy: evaluation.accuracy,
            fp32Accuracy: evaluation.referenceAccuracy, accuracyIsAgreementWithFP32: evaluation.correct == nil,
            fidelity: FidelityReportPart(scoring: evaluator.scoring, metrics: evaluation.metrics),
            evaluations: evaluations, seconds: seconds, bits: widths, family: family.text,
            layers: plan.layerNames.indices.map { i in
                SearchReport.LayerChoice(name: plan.layerNames[i], spec: plan.choices[i].weights?.description ?? "float",
                                         omega: layers[i].omega(choices[i]))
            },
            planFile: output, hawq: hawq, greedySteps: greedySteps)
    }
}
