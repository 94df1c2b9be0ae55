import Analysis
import ArgumentParser
import Foundation

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Every quantizer family at one bit-width, side by side: size, SQNR, accuracy and time.",
        discussion: "Quantizes all quantizable layers (or --layer NAME) with one spec per family and evaluates each against FP32."
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

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            var (model, dataset) = try options.load()
            if let limit { dataset = dataset.prefix(limit) }
            let specs = try QuantizerComparison.specs(bits: bits)
            var layers: [QuantizableLayer]?
            if let layer {
                guard let found = model.layers.first(where: { $0.name == layer }) else {
                    throw QScopeError(file: model.path, "no quantizable layer '\(layer)'; layers: \(model.layers.map(\.name).joined(separator: ", "))")
                }
                layers = [found]
            }
            let comparison = QuantizerComparison(model: model, dataset: dataset, batch: batch)
            let start = DispatchTime.now().uptimeNanoseconds
            let rows = try comparison.run(specs, layers: layers) { index, row in
                let line = "compare: \(index + 1)/\(specs.count) \(row.quantizer) \(fixed(row.seconds, 2)) s\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
            let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            func finite(_ x: Double) -> Any { x.isFinite ? x : (x > 0 ? "inf" : "-inf") }
            if json {
                let objects: [[String: Any]] = rows.map { row in
                    var object: [String: Any] = [
                        "quantizer": row.quantizer, "bits_per_weight": row.bitsPerWeight, "size_mb": row.sizeMB,
                        "weight_sqnr_db": finite(row.weightSQNR), "output_sqnr_db": finite(row.outputSQNR),
                        "seconds": row.seconds,
                    ]
                    object["accuracy"] = row.accuracy ?? NSNull()
                    object["delta"] = row.delta ?? NSNull()
                    if let dense = row.denseSizeMB { object["dense_size_mb"] = dense }
                    return object
                }
                try printJSON(["model": model.path, "data": dataset.source, "samples": dataset.count, "bits": bits,
                               "layer": layer ?? NSNull(), "seconds": total, "rows": objects])
                return
            }
            print("model  \(model.path)  \(layer.map { "layer \($0)" } ?? "all \(model.layers.count) layers")  \(dataset.count) samples  B=\(bits)")
            let header = ["quantizer", "bits/w", "size MB", "W SQNR dB", "out SQNR dB", "accuracy %", "Δ pts", "s"]
            let body = rows.map { row -> [String] in
                let size = fixed(row.sizeMB, 4) + (row.denseSizeMB.map { " (dense \(fixed($0, 4)))" } ?? "")
                return [row.quantizer, fixed(row.bitsPerWeight, 3), size,
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
            print("total \(fixed(total, 1)) s")
        }
    }
}
