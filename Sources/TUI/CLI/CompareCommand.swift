import Analysis
import ArgumentParser
import Executor
import Foundation

struct CompareCommand: ParsableCommand {
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

    @Option(name: .long, help: "Calibrate activation ranges (and smoothing), and the Fisher diagonal that weights the lut rows' k-means, on the first N samples.")
    var calib: Int = 512

    @Flag(name: .long, help: "lut rows: plain k-means, without the Fisher weighting computed from gradients.")
    var plainLut = false

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
        if !(0...1).contains(smooth) { throw ValidationError("--smooth must be in [0, 1], got \(smooth)") }
        if calib < 1 { throw ValidationError("--calib must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            var (model, dataset) = try options.load()
            if let limit { dataset = dataset.prefix(limit) }
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
            let start = DispatchTime.now().uptimeNanoseconds
            var fisher: FisherDiagonal?
            if !plainLut, specs.contains(where: \.usesSensitivity) {
                var ignored = QuantizationOptions.Applied()
                fisher = try QuantizationOptions.fisherOrNil(model: model, dataset: dataset, samples: calib, applied: &ignored)
                let line = fisher.map { "compare: Fisher diagonal for lut (\($0.lossKind), \($0.samples) samples) \(fixed($0.seconds, 2)) s\n" }
                    ?? "compare: lut rows use plain k-means: \(ignored.lines.first ?? "")\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
            let comparison = QuantizerComparison(model: model, dataset: dataset, batch: batch, fisher: fisher)
            let count = specs.count + activationSpecs.count
            var rows = try comparison.run(specs, layers: layers) { index, row in
                let line = "compare: \(index + 1)/\(count) \(row.quantizer) \(fixed(row.seconds, 2)) s\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
            if !activationSpecs.isEmpty {
                let baseline = try comparison.baseline()
                let weights = try QuantizerSpec(parsing: "int\(bits)")
                for (index, spec) in activationSpecs.enumerated() {
                    let row = try comparison.activationRow(weights: weights, activations: spec, calibration: calib,
                                                           layers: layers, baseline: baseline)
                    rows.append(row)
                    let line = "compare: \(specs.count + index + 1)/\(count) \(row.quantizer) A \(spec) \(fixed(row.seconds, 2)) s\n"
                    FileHandle.standardError.write(Data(line.utf8))
                }
            }
            let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            func finite(_ x: Double) -> Any { x.isFinite ? x : (x > 0 ? "inf" : "-inf") }
            if json {
                let objects: [[String: Any]] = rows.map { row in
                    var object: [String: Any] = [
                        "quantizer": row.quantizer, "bits_per_weight": row.bitsPerWeight, "size_mb": row.sizeMB,
                        "weight_sqnr_db": finite(row.weightSQNR), "output_sqnr_db": finite(row.outputSQNR),
                        "seconds": row.seconds, "fisher_weighted": row.fisherWeighted,
                    ]
                    object["accuracy"] = row.accuracy ?? NSNull()
                    object["delta"] = row.delta ?? NSNull()
                    if let dense = row.denseSizeMB { object["dense_size_mb"] = dense }
                    if let a = row.activations { object["activations"] = a }
                    if let smoothed = row.smoothedLayers { object["smoothed_layers"] = smoothed }
                    return object
                }
                try printJSON(["model": model.path, "data": dataset.source, "samples": dataset.count, "bits": bits,
                               "layer": layer ?? NSNull(), "calibration_samples": activations == nil ? NSNull() : min(calib, dataset.count) as Any,
                               "fisher": fisher.map { ["samples": $0.samples, "loss": $0.lossKind, "seconds": $0.seconds] as [String: Any] } ?? NSNull(),
                               "seconds": total, "rows": objects])
                return
            }
            print("model  \(model.path)  \(layer.map { "layer \($0)" } ?? "all \(model.layers.count) layers")  \(dataset.count) samples  B=\(bits)")
            let header = ["quantizer", "bits/w", "size MB", "W SQNR dB", "out SQNR dB", "accuracy %", "Δ pts", "s"]
            let body = rows.map { row -> [String] in
                let size = fixed(row.sizeMB, 4) + (row.denseSizeMB.map { " (dense \(fixed($0, 4)))" } ?? "")
                return [row.quantizer + (row.fisherWeighted ? " (Fisher)" : "") + (row.activations.map { " A " + $0 } ?? ""), fixed(row.bitsPerWeight, 3), size,
                        row.weightSQNR.isFinite ? fixed(row.weightSQNR, 2) : "inf",
                        row.outputSQNR.isFinite ? fixed(row.outputSQNR, 2) : "inf",
                        row.accuracy.map { fixed($0 * 100, 2) } ?? "n/a",
                        row.delta.map { (($0 >= 0) ? "+" : "") + fixed($0 * 100, 2) } ?? "n/a",
                        fixed(row.seconds, 2)]
            }
            let widths = header.indices.map { c in ([header[c]] + body.map { $0[c] }).map(\.count).max() ?? 0 }
            func render(_ cells: [String]) -> String {
                cells.enumerated().map { c, text in
                    let pad = String(repeating: " ", count: widths[c] - text.count)
                    return c == 0 ? text + pad : pad + text
                }.joined(separator: "  ")
            }
            print(render(header))
            for cells in body { print(render(cells)) }
            if let fisher {
                print("lut rows marked (Fisher): k-means weighted by the Fisher diagonal (\(fisher.lossKind) on \(fisher.samples) samples, \(fixed(fisher.seconds, 2)) s, included in the total)")
            }
            print("total \(fixed(total, 1)) s")
        }
    }
}
