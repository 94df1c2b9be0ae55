import Analysis
import ArgumentParser
import Executor
import Foundation

struct ParetoCommand: ParsableCommand {
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

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @Option(name: .long, help: "Evaluate at most N of the distinct HAWQ plans, evenly spaced in size, smallest and largest kept (default: all).")
    var maxPlans: Int?

    @OptionGroup var candidateOptions: SearchCandidateOptions

    func run() throws {
        try reportingErrors {
            try candidateOptions.check()
            if let maxPlans, maxPlans < 2 { throw QScopeError("--max-plans must be at least 2, got \(maxPlans)") }
            let (widths, family) = try candidateOptions.candidates()
            let (model, dataset) = try options.load()
            let report = try candidateOptions.traces(model: model, dataset: dataset)
            let layers = try CandidateBuilder.build(model: model, bitWidths: widths, family: family,
                                                    tracesPerParameter: report.layers.map(\.tracePerParameter))
            let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: candidateOptions.batch)
            let problem = AllocationProblem(layers: layers)
            let result = try runBlocking { try await ParetoSweep.run(problem: problem, evaluator: evaluator, maxHAWQPlans: maxPlans) }
            let evaluatedHAWQ = result.points.filter { $0.source == .hawq }.count
            if json {
                let points: [[String: Any]] = result.points.map { point in
                    [
                        "source": point.source.rawValue, "on_front": point.onFront,
                        "avg_bits": point.evaluation.size.averageTotalBits, "size_mb": point.evaluation.size.totalMB,
                        "total_bits": point.totalBits, "accuracy": point.evaluation.accuracy, "omega": point.omega,
                        "layers": Dictionary(uniqueKeysWithValues: zip(point.plan.layerNames,
                                                                       point.plan.choices.map { $0.weights?.description ?? "float" })),
                    ]
                }
                var object: [String: Any] = [
                    "model": model.path, "data": dataset.source, "samples": dataset.count, "points": points,
                    "distinct_hawq_plans": result.distinctPlans, "evaluated_hawq_plans": evaluatedHAWQ, "front": result.points.filter(\.onFront).count,
                    "resolution_bits": result.resolutionBits, "probes": report.probes,
                    "hessian_seconds": report.seconds, "sweep_seconds": result.seconds,
                    "bits": widths, "family": family.text,
                ]
                if let reference = result.points.first?.evaluation.referenceAccuracy { object["fp32_accuracy"] = reference }
                try printJSON(object)
                return
            }
            print("model     \(model.path)")
            print("data      \(dataset.source)  (\(dataset.count) samples)")
            let capped = evaluatedHAWQ < result.distinctPlans ? " (\(evaluatedHAWQ) evaluated, --max-plans)" : ""
            print("plans     \(result.distinctPlans) distinct HAWQ plans\(capped) + \(widths.count) uniform, \(result.points.filter(\.onFront).count) on the front")
            print("time      Hessian \(fixed(report.seconds, 2)) s (\(report.probes) probes), sweep \(fixed(result.seconds, 2)) s")
            print("")
            print("   source    bits/w      size MB   accuracy        Σ Ω")
            for point in result.points {
                let mark = point.onFront ? " * " : "   "
                let source = point.source.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                print("\(mark)\(source)\(String(format: "%8.3f  %11.5f  %8.2f %%  %10.3e", point.evaluation.size.averageTotalBits, point.evaluation.size.totalMB, point.evaluation.accuracy * 100, point.omega))")
            }
            print("")
            print("* on the front (no other point is both smaller and more accurate)")
        }
    }
}
