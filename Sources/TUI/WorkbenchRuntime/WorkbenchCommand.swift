import Analysis
import ArgumentParser
import Executor
import Foundation
import Workbench
import CLI

/// `qscope [MODEL] [--data D] [--plan P] [--theme T]`: the interactive workbench (the default command).
package struct WorkbenchCommand: ParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "workbench",
        abstract: "The interactive workbench: edit per-layer bit-widths and watch accuracy and size (default)."
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Open this plan (*.qscope.json); saving proposes the same path.")
    var plan: String?

    @Option(name: .long, help: "Colour theme: a name from themes/ (dark, light, mono) or a .theme file.")
    var theme: String?

    /// Same default as `eval`, so that `eval --plan` reproduces the screen's accuracy bit for bit
    /// (different batch splits may round differently and flip a near tie).
    @Option(name: .long, help: "Samples per forward pass in the engine (as for eval --plan).")
    var batch: Int = PlanEvaluator.defaultBatchSize

    /// lut layers: the Fisher diagonal that weights the k-means, on the first N samples (as for eval).
    @OptionGroup var calibration: CalibrationOptions

    @OptionGroup var metric: MetricOptions

    /// Large models (a transformer over 64-token sentences) want fewer: each probe costs a forward and
    /// backward pass per sample.
    @Option(name: .long, help: "Samples of the background Hessian analysis (default 512, or all when there are fewer).")
    var hessianSamples: Int?

    package func validate() throws {
        try requirePositive(batch, "--batch")
        try requirePositive(hessianSamples, "--hessian-samples")
    }

    package func run() throws {
        try reportingErrors {
            // Everything that can fail on bad input fails here, before curses owns the screen.
            let (model, dataset) = try options.load(planPath: plan)
            let planPath = plan ?? PlanFile.defaultPath(forModel: model.path)
            // The model opens with its stored quantization, if it has one; a plan file overrides it
            // for the layers it lists.
            let startingPlan = Plan(startingFrom: model)
            let loaded = try plan.map {
                try PlanFile.load(path: $0, layerNames: model.layers.map(\.name), modelPath: model.path, base: startingPlan)
            }
            if let warning = loaded?.warning { writeToStandardError("qscope: warning: \(warning)") }
            let initialPlan = loaded?.plan ?? startingPlan
            var catalog = try ThemeCatalog.load(folder: ThemeCatalog.locateFolder())
            let themeIndex = try theme.map { try catalog.select($0) } ?? 0
            guard !model.layers.isEmpty else { throw QScopeError(file: model.path, "has no quantizable layers (Conv, Gemm or MatMul with a constant weight)") }
            guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
                throw QScopeError("the workbench needs a terminal; for headless runs use 'qscope eval' (with --plan)")
            }
            let evaluator = try PlanEvaluator(model: model, dataset: dataset, batchSize: batch, fisherSamples: calibration.samples,
                                              metric: metric.metric)
            var summary = ModelSummary(model: model, dataPath: dataset.source, samples: dataset.count)
            summary.path = relativeToWorkingDirectory(model.path)
            summary.dataPath = relativeToWorkingDirectory(dataset.source)
            let runtime = try WorkbenchRuntime(summary: summary, plan: initialPlan,
                                               planPath: relativeToWorkingDirectory(planPath), evaluator: evaluator,
                                               themes: catalog, themeIndex: themeIndex, model: model, dataset: dataset,
                                               hessianSamples: hessianSamples)
            runtime.run()
        }
    }
}
