import Analysis
import ArgumentParser
import Executor
import Foundation

/// The candidate and Hessian options shared by `search` and `pareto`.
struct SearchCandidateOptions: ParsableArguments {
    @Option(name: .long, help: "Candidate weight bit-widths, comma-separated (2...16).")
    var bits: String = "2,3,4,6,8"

    @Option(name: .long, help: "Quantizer family with the width open: intB (default), intB:asym, intB:group=64, fp, pot, lutB, powB, split3:intB.")
    var family: String = "intB"

    @Option(name: .long, help: "Use the first N samples of the data for the Hessian traces (default 512, or all when there are fewer).")
    var hessianSamples: Int?

    @Option(name: .long, help: "Maximum number of Hutchinson probes.")
    var probes: Int = 200

    @Option(name: .long, help: "Stop the probes when every layer's standard error is below this fraction of its trace (0: run all).")
    var tolerance: Double = 0.02

    @Option(name: .long, help: "Seed of the Rademacher probes.")
    var seed: UInt64 = 0

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
        if let hessianSamples, hessianSamples < 1 { throw QScopeError("--hessian-samples must be at least 1") }
        if probes < 1 { throw QScopeError("--probes must be at least 1") }
        if tolerance < 0 || !tolerance.isFinite { throw QScopeError("--tolerance must be a number >= 0") }
        if batch < 1 { throw QScopeError("--batch must be at least 1") }
    }

    /// Per-layer Hessian traces (nothing is cached on disk).
    func traces(model: Model, dataset: Dataset) throws -> HessianReport {
        var settings = HessianOptions()
        settings.samples = hessianSamples ?? HessianOptions.defaultSamples(for: dataset.count)
        settings.maxProbes = probes
        settings.minProbes = min(32, probes)
        settings.tolerance = tolerance
        settings.seed = seed
        return try HessianTraceEstimator.run(model: model, data: dataset, options: settings)
    }
}

struct SearchCommand: ParsableCommand {
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

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

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

    func run() throws {
        try reportingErrors {
            let start = DispatchTime.now().uptimeNanoseconds
            guard ["hawq", "greedy"].contains(method) else { throw QScopeError("--method must be hawq or greedy, got '\(method)'") }
            let budget = try budget()
            try candidateOptions.check()
            let (widths, family) = try candidateOptions.candidates()
            let (model, dataset) = try options.load()
            var layers = try CandidateBuilder.build(model: model, bitWidths: widths, family: family)
            let budgetBits = try budget.check(against: layers)
            let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: candidateOptions.batch)

            var object: [String: Any] = ["method": method]
            let choices: [Int]
            let evaluation: PlanEvaluation
            var evaluations = 1
            var omega: Double?
            if method == "hawq" {
                let report = try candidateOptions.traces(model: model, dataset: dataset)
                // The same function the workbench's `a` key runs (HAWQAllocation.swift).
                let allocation = try HAWQAllocation.allocate(candidates: layers,
                                                             tracesPerParameter: report.layers.map(\.tracePerParameter),
                                                             budget: budget)
                layers = try CandidateBuilder.withTraces(layers, report.layers.map(\.tracePerParameter), for: "the search")
                choices = allocation.choices
                omega = allocation.omega
                evaluation = try runBlocking { try await evaluator.evaluate(allocation.plan) }
                object["resolution_bits"] = allocation.resolutionBits
                object["probes"] = report.probes
                object["hessian_seconds"] = report.seconds
                object["hessian_samples"] = report.samples
                if let omega { object["omega"] = omega }
            } else {
                let searchLayers = layers
                let result = try runBlocking {
                    try await GreedyMixedPrecision.run(evaluator: evaluator, layers: searchLayers, budgetBits: budgetBits)
                }
                choices = result.choices
                evaluation = result.evaluation
                evaluations = result.evaluations
                object["steps"] = result.steps.count
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let plan = CandidateBuilder.plan(layers, choices: choices)
            if let output { try PlanFile.save(plan, modelPath: model.path, to: output) }

            let size = evaluation.size
            let budgetObject: [String: Double] = switch budget {
            case .averageBits(let value): ["avg_bits": value]
            case .megabytes(let value): ["size_mb": value]
            }
            object.merge([
                "model": model.path, "data": dataset.source, "samples": evaluation.samples,
                "budget": budgetObject, "budget_bits": budgetBits,
                "avg_bits": size.averageTotalBits, "avg_payload_bits": size.averagePayloadBits,
                "size_mb": size.totalMB, "payload_mb": size.payloadMB, "total_bits": size.totalBits,
                "accuracy": evaluation.accuracy, "evaluations": evaluations, "seconds": seconds,
                "bits": widths, "family": family.text,
                "layers": Dictionary(uniqueKeysWithValues: zip(plan.layerNames, plan.choices.map { $0.weights?.description ?? "float" })),
            ]) { $1 }
            if let reference = evaluation.referenceAccuracy { object["fp32_accuracy"] = reference }
            if evaluation.correct == nil { object["accuracy_is_agreement_with_fp32"] = true }
            if let output { object["plan_file"] = output }
            if json {
                try printJSON(object)
                return
            }
            print("model     \(model.path)")
            print("data      \(dataset.source)  (\(evaluation.samples) samples)")
            print("method    \(method), \(budget.description) = \(budgetBits) bits with metadata; candidates \(family.text) at \(widths.map(String.init).joined(separator: ","))")
            print("size      \(fixed(size.totalMB, 5)) MB with metadata (\(fixed(size.averageTotalBits, 3)) bits/weight), \(fixed(size.payloadMB, 5)) MB codes only (\(fixed(size.averagePayloadBits, 3)) bits/weight)")
            let metric = evaluation.correct == nil ? "agreement with FP32" : "accuracy"
            var accuracyLine = "\(metric)  \(fixed(evaluation.accuracy * 100, 2)) %"
            if let reference = evaluation.referenceAccuracy { accuracyLine += "  (FP32 \(fixed(reference * 100, 2)) %)" }
            print(accuracyLine)
            if let omega { print("Σ Ω       \(String(format: "%.4e", omega))  (\(object["probes"] ?? 0) probes, resolution \(object["resolution_bits"] ?? 0) bits)") }
            print("work      \(evaluations) evaluation\(evaluations == 1 ? "" : "s"), \(fixed(seconds, 2)) s")
            if let output { print("plan      \(output)") }
            print("")
            let nameWidth = max(5, plan.layerNames.map(\.count).max() ?? 5)
            for (i, name) in plan.layerNames.enumerated() {
                let candidate = layers[i].candidates[choices[i]]
                let padded = name + String(repeating: " ", count: nameWidth - name.count)
                var line = "\(padded)  \(candidate.spec.description)"
                if let layerOmega = layers[i].omega(choices[i]) { line += "  Ω \(String(format: "%.3e", layerOmega))" }
                print(line)
            }
        }
    }
}
