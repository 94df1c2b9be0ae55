import Analysis
import ArgumentParser
import Foundation

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Per-layer sensitivity: Hessian traces (Hutchinson, exact Hessian-vector products) and HAWQ-V2 Ω.",
        discussion: """
            The loss is the mean cross-entropy over the first N labelled samples; data without labels uses \
            the KL divergence to the FP32 model's own outputs (and says so). Only the Hessian part exists so \
            far (--only hessian, the default).
            """
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Use the first N samples of the data for the Hessian.")
    var hessianSamples: Int = 512

    @Option(name: .long, help: "Maximum number of Hutchinson probes.")
    var probes: Int = 200

    @Option(name: .long, help: "Stop when every layer's standard error is below this fraction of its trace (0: run all probes).")
    var tolerance: Double = 0.02

    @Option(name: .long, help: "Seed of the Rademacher probes.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Which analysis to run (only 'hessian' is available).")
    var only: String = "hessian"

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        if hessianSamples < 1 { throw ValidationError("--hessian-samples must be at least 1") }
        if probes < 1 { throw ValidationError("--probes must be at least 1") }
        if tolerance < 0 || !tolerance.isFinite { throw ValidationError("--tolerance must be a number >= 0") }
        if only != "hessian" {
            throw ValidationError("--only \(only) is not available yet (only 'hessian' is implemented)")
        }
    }

    func run() throws {
        try reportingErrors {
            let (model, dataset) = try options.load()
            var settings = HessianOptions()
            settings.samples = hessianSamples
            settings.maxProbes = probes
            settings.minProbes = min(32, probes)
            settings.tolerance = tolerance
            settings.seed = seed
            let report = try HessianTraceEstimator.run(model: model, data: dataset, options: settings)
            let lossNote = report.lossKind == "cross-entropy"
                ? "mean cross-entropy over \(report.samples) labelled samples"
                : "KL divergence to the FP32 outputs over \(report.samples) samples (the data has no labels)"
            if json {
                let layers: [[String: Any]] = report.layers.map { layer in
                    [
                        "name": layer.name, "parameters": layer.parameters, "trace": layer.trace,
                        "trace_se": layer.standardError, "trace_per_param": layer.tracePerParameter,
                        "omega": Dictionary(uniqueKeysWithValues: layer.omega.map { (String($0.key), $0.value) }),
                    ]
                }
                try printJSON([
                    "model": model.path, "data": dataset.source, "layers": layers, "probes": report.probes,
                    "seconds": report.seconds, "loss": report.loss, "loss_kind": report.lossKind,
                    "samples": report.samples, "note": lossNote,
                ])
                return
            }
            print("model   \(model.path)")
            print("data    \(dataset.source)")
            print("loss    \(fixed(report.loss, 5))  (\(lossNote))")
            print("probes  \(report.probes)   \(fixed(report.seconds, 2)) s")
            print("")
            let nameWidth = max(5, report.layers.map(\.name.count).max() ?? 5)
            func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
            func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
            print(pad("layer", nameWidth) + lpad("params", 9) + lpad("trace", 12) + lpad("± se", 11) + lpad("trace/param", 13)
                  + lpad("Ω2", 11) + lpad("Ω3", 11) + lpad("Ω4", 11) + lpad("Ω8", 11))
            func sci(_ v: Double) -> String { String(format: "%.3e", v) }
            for layer in report.layers {
                var line = pad(layer.name, nameWidth) + lpad(String(layer.parameters), 9) + lpad(sci(layer.trace), 12)
                line += lpad(sci(layer.standardError), 11) + lpad(sci(layer.tracePerParameter), 13)
                for bits in [2, 3, 4, 8] { line += lpad(sci(layer.omega[bits] ?? .nan), 11) }
                print(line)
            }
            let negative = report.layers.filter { $0.trace < 0 }.map(\.name)
            if !negative.isEmpty {
                print("")
                print("note: negative trace (a non-convex direction at these weights, or noise) for \(negative.joined(separator: ", ")); "
                      + "their Ω is negative too: treat them as insensitive rather than ranking them below zero")
            }
        }
    }
}
