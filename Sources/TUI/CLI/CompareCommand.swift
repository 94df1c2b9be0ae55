import Analysis
import ArgumentParser
import Executor

struct CompareCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Every quantizer family at one bit-width, side by side: size, SQNR, accuracy and time.",
        discussion: "Quantizes all quantizable layers (or --layer NAME) with one spec per family and evaluates each against FP32. With --activations SPEC, three more rows: weights intB plus SPEC without smoothing, with smooth=α and with smooth=α:bias (SmoothQuant / SQ-b at Gemm and MatMul inputs; other layers are not smoothed, each row lists the smoothed layers in --json)."
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .long, help: "Code bit-width B (2..16).")
    var bits: Int

    @Option(name: .long, help: "Quantize only this layer (name as listed by `qscope info`).")
    var layer: String?

    @Option(name: .long, help: "Evaluate only the first N samples.")
    var limit: Int?

    @Option(name: .long, help: "Samples per forward pass.")
    var batch: Int = 256

    @Option(name: .long, help: ArgumentHelp("Also add rows with weights intB plus static activation fake-quant SPEC (intB[:asym][:clip=...]) without smoothing, with smooth=α (SmoothQuant) and with smooth=α:bias (SQ-b).",
                                            valueName: "SPEC"))
    var activations: String?

    @Option(name: .long, help: "α of the smoothed activation rows when SPEC has no smooth=α (0..1).")
    var smooth: Double = 0.5

    @OptionGroup var calibration: CalibrationOptions

    @OptionGroup var lut: LutOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        try requirePositive(limit, "--limit")
        try requirePositive(batch, "--batch")
        if !(0...1).contains(smooth) { throw ValidationError("--smooth must be in [0, 1], got \(smooth)") }
    }

    func run() async throws {
        try reportingErrors {
            var (model, dataset) = try options.load()
            if let limit { dataset = dataset.prefix(limit) }
            try output.print(try compare(model: model, dataset: dataset))
        }
    }

    /// Every family's row, then the activation rows; progress on stderr.
    private func compare(model: Model, dataset: Dataset) throws -> CompareReport {
        let specs = try QuantizerComparison.specs(bits: bits)
        let activationSpecs = try activations.map {
            QuantizerComparison.activationSpecs(try ActivationSpec(parsing: $0), alpha: Float(smooth))
        } ?? []
        var layers: [QuantizableLayer]?
        if let layer {
            guard let found = model.layers.first(where: { $0.name == layer }) else {
                throw QScopeError(file: model.path, "no quantizable layer '\(layer)'; layers: \(model.layers.map(\.name).joined(separator: ", "))")
            }
            layers = [found]
        }
        let clock = ContinuousClock()
        let start = clock.now
        var fisher: FisherDiagonal?
        if !lut.plainLut, specs.contains(where: \.usesSensitivity) {
            let weighting: UniformQuantizationSummary.LutWeighting
            (fisher, weighting) = try UniformQuantizationPipeline.fisherWeighting(model: model, dataset: dataset,
                                                                                 samples: calibration.samples)
            writeToStandardError(fisher.map { "compare: Fisher diagonal for lut (\($0.lossKind), \($0.samples) samples) \(fixed($0.seconds, 2)) s" }
                ?? "compare: lut rows use plain k-means: \(weighting.line ?? "")")
        }
        let comparison = QuantizerComparison(model: model, dataset: dataset, batch: batch, fisher: fisher)
        let count = specs.count + activationSpecs.count
        var rows = try comparison.run(specs, layers: layers) { index, row in
            writeToStandardError("compare: \(index + 1)/\(count) \(row.quantizer) \(fixed(row.seconds, 2)) s")
        }
        if !activationSpecs.isEmpty {
            let baseline = try comparison.baseline()
            let weights = try QuantizerSpec(parsing: "int\(bits)")
            for (index, spec) in activationSpecs.enumerated() {
                let row = try comparison.activationRow(weights: weights, activations: spec, calibration: calibration.samples,
                                                       layers: layers, baseline: baseline)
                rows.append(row)
                writeToStandardError("compare: \(specs.count + index + 1)/\(count) \(row.quantizer) A \(spec) \(fixed(row.seconds, 2)) s")
            }
        }
        return CompareReport(
            model: model.path, data: dataset.source, samples: dataset.count, bits: bits, layer: layer,
            layerCount: model.layers.count,
            calibrationSamples: activations == nil ? nil : min(calibration.samples, dataset.count),
            fisher: fisher.map { CompareReport.Fisher(samples: $0.samples, loss: $0.lossKind, seconds: $0.seconds) },
            seconds: (clock.now - start).seconds, rows: rows)
    }
}
