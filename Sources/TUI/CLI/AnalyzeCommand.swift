import Analysis
import ArgumentParser
import Executor
import Foundation

struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Per-layer sensitivity: Hessian traces and Ω, top eigenvalues, activation statistics, weight outlier clusters, single-layer accuracy.",
        discussion: """
            Parts (--only, comma-separated; default all): outliers (k = 3 k-means of each weight, IQR and 3σ \
            counts), activations (statistics at each layer's input on the first --calib samples), hessian \
            (Hutchinson traces, HAWQ-V2 Ω), eigen (top eigenvalue of each layer's Hessian block, power \
            iteration), drop (accuracy with only this layer at 2 and 4 bits, intB, on the first --limit samples). \
            The Hessian loss is the mean cross-entropy over the first --hessian-samples labelled samples; data \
            without labels uses the KL divergence to the FP32 model's own outputs (and says so), and its \
            accuracies are top-1 agreement with the FP32 model.
            """
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Use the first N samples of the data for the Hessian (traces and eigenvalues; default 512, or all when there are fewer).")
    var hessianSamples: Int?

    @Option(name: .long, help: "Maximum number of Hutchinson probes.")
    var probes: Int = 200

    @Option(name: .long, help: "Stop when every layer's standard error is below this fraction of its trace (0: run all probes).")
    var tolerance: Double = 0.02

    @Option(name: .long, help: "Hutchinson probes per tangent pass (more: bigger products, more memory).")
    var probeBatch: Int = HessianOptions().probeBatch

    @Option(name: .long, help: "Samples per Hessian pass (0: the largest that fits the memory budget).")
    var hessianChunk: Int = 0

    @Option(name: .long, help: "Seed of the Rademacher probes and of the power iteration's start vectors.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Activation statistics on the first N samples.")
    var calib: Int = 512

    @Option(name: .long, help: "Single-layer accuracies on the first N samples (default: all).")
    var limit: Int?

    @Option(name: .long, help: "Parts to run, comma-separated: hessian, eigen, activations, outliers, drop (default: all).")
    var only: String?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    func parts() throws -> Set<SensitivityPart> {
        guard let only else { return Set(SensitivityPart.allCases) }
        var parts = Set<SensitivityPart>()
        for name in only.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            guard let part = SensitivityPart(rawValue: name) else {
                throw ValidationError("--only \(name): unknown part (use hessian, eigen, activations, outliers or drop)")
            }
            parts.insert(part)
        }
        if parts.isEmpty { throw ValidationError("--only needs at least one part") }
        return parts
    }

    func validate() throws {
        if let hessianSamples, hessianSamples < 1 { throw ValidationError("--hessian-samples must be at least 1") }
        if probes < 1 { throw ValidationError("--probes must be at least 1") }
        if tolerance < 0 || !tolerance.isFinite { throw ValidationError("--tolerance must be a number >= 0") }
        if probeBatch < 1 { throw ValidationError("--probe-batch must be at least 1") }
        if hessianChunk < 0 { throw ValidationError("--hessian-chunk must be at least 0") }
        if calib < 1 { throw ValidationError("--calib must be at least 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        _ = try parts()
    }

    func run() throws {
        try reportingErrors {
            let (model, dataset) = try options.load()
            var settings = SensitivityOptions()
            settings.parts = try parts()
            settings.hessian.samples = hessianSamples ?? HessianOptions.defaultSamples(for: dataset.count)
            settings.hessian.maxProbes = probes
            settings.hessian.minProbes = min(32, probes)
            settings.hessian.tolerance = tolerance
            settings.hessian.seed = seed
            settings.hessian.probeBatch = probeBatch
            settings.hessian.chunk = hessianChunk
            settings.eigen.seed = seed
            settings.calibrationSamples = calib
            settings.evaluationLimit = limit
            let usesHessian = settings.parts.contains(.hessian) || settings.parts.contains(.eigen)
            let unlabelled = dataset.labels == nil
            if unlabelled && (usesHessian || settings.parts.contains(.drop)) {
                FileHandle.standardError.write(Data(("qscope: note: \(dataset.source) has no labels: the Hessian loss falls back to the KL "
                    + "divergence to the FP32 outputs, and accuracies are top-1 agreement with the FP32 model\n").utf8))
            }
            let report = try SensitivityAnalysis.run(model: model, data: dataset, options: settings)
            if json {
                try printJSON(jsonObject(report, model: model, dataset: dataset, unlabelled: unlabelled))
            } else {
                printText(report, model: model, dataset: dataset, unlabelled: unlabelled)
            }
        }
    }

    // MARK: - JSON

    /// Non-finite numbers (an asymmetry of +∞) become null: JSON has no infinity.
    private func number(_ value: Double) -> Any { value.isFinite ? value : NSNull() }

    private func bitsObject(_ values: [Int: Double]) -> [String: Any] {
        Dictionary(uniqueKeysWithValues: values.map { (String($0.key), number($0.value)) })
    }

    func jsonObject(_ report: SensitivityReport, model: Model, dataset: Dataset, unlabelled: Bool) -> [String: Any] {
        var layers: [[String: Any]] = []
        for (l, layer) in model.layers.enumerated() {
            var row: [String: Any] = ["name": layer.name, "parameters": layer.parameterCount]
            if let trace = report.hessian?.layers[l] {
                row["trace"] = trace.trace
                row["trace_se"] = trace.standardError
                row["trace_per_param"] = trace.tracePerParameter
                row["omega"] = bitsObject(trace.omega)
            }
            if let eigen = report.eigenvalues?[l] {
                row["eigenvalue"] = eigen.eigenvalue
                row["eigen_iterations"] = eigen.iterations
                row["eigen_converged"] = eigen.converged
            }
            if let accuracy = report.accuracy?[l] {
                for (bits, value) in accuracy.accuracy { row["accuracy_\(bits)bit"] = value }
                for (bits, value) in accuracy.drop { row["drop_\(bits)bit"] = value }
            }
            if let a = report.activations?[l] {
                row["activations"] = [
                    "count": a.count, "min": a.minimum, "max": a.maximum, "mean": a.mean, "std": a.standardDeviation,
                    "skew": a.skewness, "asymmetry": number(a.asymmetry), "negative_fraction": a.negativeFraction,
                    "histogram": a.histogram, "histogram_edges": [a.binEdge(0), a.binEdge(ActivationStatistics.bins)],
                    "mse_symmetric": bitsObject(a.symmetricMSE), "mse_asymmetric": bitsObject(a.asymmetricMSE),
                ] as [String: Any]
            }
            if let o = report.outliers?[l] {
                row["outliers"] = [
                    "centers": o.clusters.map(\.center), "boundaries": [o.lowerBoundary, o.upperBoundary],
                    "counts": o.clusters.map(\.count), "ranges": o.clusters.map { [$0.minimum, $0.maximum] },
                    "iqr_outliers": o.iqrOutliers, "iqr_fences": [o.iqrFences.lowerBound, o.iqrFences.upperBound],
                    "sigma_outliers": o.sigmaOutliers, "sigma_k": OutlierClusters.sigmaMultiple,
                    "mean": o.mean, "std": o.standardDeviation,
                ] as [String: Any]
            }
            layers.append(row)
        }
        var object: [String: Any] = [
            "model": model.path, "data": dataset.source, "layers": layers, "seconds": report.seconds,
            "seconds_parts": Dictionary(uniqueKeysWithValues: report.partSeconds.map { ($0.key.rawValue, $0.value) }),
            "parts": SensitivityPart.allCases.filter { report.partSeconds[$0] != nil }.map(\.rawValue),
        ]
        if let hessian = report.hessian {
            object["probes"] = hessian.probes
            object["loss"] = hessian.loss
            object["loss_kind"] = hessian.lossKind
            object["samples"] = hessian.samples
            object["note"] = lossNote(hessian.lossKind, samples: hessian.samples)
        }
        if report.eigenvalues != nil { object["hessian_samples"] = hessianSamples ?? HessianOptions.defaultSamples(for: dataset.count) }
        if report.activations != nil { object["calibration_samples"] = report.calibrationSamples }
        if report.accuracy != nil {
            object["evaluation_samples"] = report.evaluationSamples
            object["accuracy_metric"] = unlabelled ? "top-1 agreement with FP32" : "top-1"
            object["accuracy_fp32"] = report.accuracy?.first?.referenceAccuracy
        }
        return object
    }

    private func lossNote(_ kind: String, samples: Int) -> String {
        kind == "cross-entropy"
            ? "mean cross-entropy over \(samples) labelled samples"
            : "KL divergence to the FP32 outputs over \(samples) samples (the data has no labels)"
    }

    // MARK: - Text

    func printText(_ report: SensitivityReport, model: Model, dataset: Dataset, unlabelled: Bool) {
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
        func sci(_ v: Double) -> String { v.isFinite ? String(format: "%.3e", v) : (v > 0 ? "inf" : "nan") }
        func g(_ v: Double) -> String { v.isFinite ? String(format: "%.4g", v) : (v > 0 ? "inf" : "nan") }
        let nameWidth = max(5, model.layers.map(\.name.count).max() ?? 5)
        print("model   \(model.path)")
        print("data    \(dataset.source)")
        let seconds = SensitivityPart.allCases.compactMap { part in report.partSeconds[part].map { "\(part.rawValue) \(fixed($0, 2)) s" } }
        print("time    \(fixed(report.seconds, 2)) s  (\(seconds.joined(separator: ", ")))")

        if let hessian = report.hessian {
            print("")
            print("Hessian traces (Hutchinson): \(hessian.probes) probes; loss \(fixed(hessian.loss, 5)), \(lossNote(hessian.lossKind, samples: hessian.samples))")
            print(pad("layer", nameWidth) + lpad("params", 9) + lpad("trace", 12) + lpad("± se", 11) + lpad("trace/param", 13)
                  + lpad("Ω2", 11) + lpad("Ω3", 11) + lpad("Ω4", 11) + lpad("Ω8", 11))
            for layer in hessian.layers {
                var line = pad(layer.name, nameWidth) + lpad(String(layer.parameters), 9) + lpad(sci(layer.trace), 12)
                line += lpad(sci(layer.standardError), 11) + lpad(sci(layer.tracePerParameter), 13)
                for bits in [2, 3, 4, 8] { line += lpad(sci(layer.omega[bits] ?? .nan), 11) }
                print(line)
            }
            let negative = hessian.layers.filter { $0.trace < 0 }.map(\.name)
            if !negative.isEmpty {
                print("note: negative trace (a non-convex direction at these weights, or noise) for \(negative.joined(separator: ", ")); "
                      + "their Ω is negative too: treat them as insensitive rather than ranking them below zero")
            }
        }
        if let eigen = report.eigenvalues {
            print("")
            print("Top Hessian eigenvalue per layer block (power iteration, \(hessianSamples ?? HessianOptions.defaultSamples(for: dataset.count)) samples, tolerance 1e-3, at most 100 steps)")
            print(pad("layer", nameWidth) + lpad("eigenvalue", 12) + lpad("λ/param", 12) + lpad("steps", 7))
            for e in eigen {
                print(pad(e.name, nameWidth) + lpad(sci(e.eigenvalue), 12) + lpad(sci(e.eigenvaluePerParameter), 12)
                      + lpad(String(e.iterations) + (e.converged ? "" : "*"), 7))
            }
            if eigen.contains(where: { !$0.converged }) { print("* not converged within the step cap") }
        }
        if let accuracy = report.accuracy, let first = accuracy.first {
            print("")
            let metric = unlabelled ? "top-1 agreement with FP32" : "top-1 accuracy"
            print("Only this layer quantized (intB, per channel): \(metric) on \(report.evaluationSamples) samples; FP32 \(fixed(100 * first.referenceAccuracy, 2)) %")
            let bits = first.accuracy.keys.sorted()
            var header = pad("layer", nameWidth)
            for b in bits { header += lpad("int\(b) %", 10) + lpad("Δ pp", 8) }
            print(header)
            for a in accuracy {
                var line = pad(a.name, nameWidth)
                for b in bits {
                    line += lpad(fixed(100 * (a.accuracy[b] ?? .nan), 2), 10) + lpad(fixed(-100 * (a.drop[b] ?? .nan), 2), 8)
                }
                print(line)
            }
        }
        if let activations = report.activations {
            print("")
            print("Input activations on \(report.calibrationSamples) calibration samples (MSE of per-tensor grids over [min, max])")
            print(pad("layer", nameWidth) + lpad("min", 10) + lpad("max", 10) + lpad("mean", 10) + lpad("std", 10) + lpad("skew", 9)
                  + lpad("|min|/max", 10) + lpad("neg %", 7) + lpad("sym8", 11) + lpad("asym8", 11) + lpad("sym4", 11) + lpad("asym4", 11))
            for a in activations {
                print(pad(a.name, nameWidth) + lpad(g(a.minimum), 10) + lpad(g(a.maximum), 10) + lpad(g(a.mean), 10)
                      + lpad(g(a.standardDeviation), 10) + lpad(fixed(a.skewness, 2), 9) + lpad(g(a.asymmetry), 10)
                      + lpad(fixed(100 * a.negativeFraction, 1), 7) + lpad(sci(a.symmetricMSE[8] ?? .nan), 11)
                      + lpad(sci(a.asymmetricMSE[8] ?? .nan), 11) + lpad(sci(a.symmetricMSE[4] ?? .nan), 11)
                      + lpad(sci(a.asymmetricMSE[4] ?? .nan), 11))
            }
        }
        if let outliers = report.outliers {
            print("")
            print("Weight clusters (optimal 1-D k-means, k = 3; counts lower/middle/upper) and outliers (1.5·IQR, 3σ)")
            print(pad("layer", nameWidth) + lpad("centres", 30) + lpad("boundaries", 22) + lpad("counts", 22) + lpad("IQR", 7) + lpad("3σ", 7))
            for o in outliers {
                let centres = o.clusters.map { g($0.center) }.joined(separator: " ")
                let counts = o.clusters.map { String($0.count) }.joined(separator: "/")
                print(pad(o.name, nameWidth) + lpad(centres, 30) + lpad(g(o.lowerBoundary) + " " + g(o.upperBoundary), 22)
                      + lpad(counts, 22) + lpad(String(o.iqrOutliers), 7) + lpad(String(o.sigmaOutliers), 7))
            }
        }
        if report.cancelled { print("\n(cancelled: partial results)") }
    }
}
