import Analysis
import ArgumentParser
import Executor

struct AnalyzeCommand: AsyncParsableCommand {
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

    @OptionGroup var hessian: HessianTraceOptions

    @Option(name: .long, help: "Hutchinson probes per tangent pass (more: bigger products, more memory).")
    var probeBatch: Int = HessianOptions().probeBatch

    @Option(name: .long, help: "Samples per Hessian pass (0: the largest that fits the memory budget).")
    var hessianChunk: Int = 0

    @OptionGroup var calibration: CalibrationOptions

    @Option(name: .long, help: "Single-layer accuracies on the first N samples (default: all).")
    var limit: Int?

    @Option(name: .long, help: "Parts to run, comma-separated: hessian, eigen, activations, outliers, drop (default: all).")
    var only: String?

    @OptionGroup var output: OutputOptions

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
        if let problem = hessian.problem() { throw ValidationError(problem) }
        try requirePositive(probeBatch, "--probe-batch")
        try requireAtLeast(0, hessianChunk, "--hessian-chunk")
        try requirePositive(limit, "--limit")
        _ = try parts()
    }

    func run() async throws {
        try await reportingErrors {
            let (model, dataset) = try options.load()
            var settings = SensitivityOptions()
            settings.parts = try parts()
            settings.hessian = hessian.settings(samplesOf: dataset)
            settings.hessian.probeBatch = probeBatch
            settings.hessian.chunk = hessianChunk
            settings.eigen.seed = hessian.seed
            settings.calibrationSamples = calibration.samples
            settings.evaluationLimit = limit
            let usesHessian = settings.parts.contains(.hessian) || settings.parts.contains(.eigen)
            let unlabelled = dataset.labels == nil
            if unlabelled && (usesHessian || settings.parts.contains(.drop)) {
                writeToStandardError("qscope: note: \(dataset.source) has no labels: the Hessian loss is the KL divergence "
                    + "(logits) or the squared error (other outputs) to the FP32 outputs, and accuracies are top-1 agreement with the FP32 model")
            }
            let analysis = settings
            // The single-layer accuracies block their thread on the evaluator's tasks: not a pool thread.
            let sensitivity = try await onOwnThread { try SensitivityAnalysis.run(model: model, data: dataset, options: analysis) }
            try output.print(AnalyzeReport(model: model.path, data: dataset.source,
                                           layers: model.layers.map { ($0.name, $0.parameterCount) }, sensitivity: sensitivity,
                                           hessianSamples: settings.hessian.samples, unlabelled: unlabelled))
        }
    }
}
