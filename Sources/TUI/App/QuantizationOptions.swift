import Analysis
import ArgumentParser
import Foundation

/// `--weights`, `--activations` and `--calib` of `qscope eval`: the quantizers applied before the pass.
struct QuantizationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Quantize every quantizable layer's weight with SPEC (e.g. int4, fp4:e2m1:block=32, lut3, split3:int2).",
                                            valueName: "SPEC"))
    var weights: String?

    /// What was applied, for the text and JSON reports.
    struct Applied {
        var json: [String: Any] = [:]
        var lines: [String] = []
    }

    /// The evaluator (on the model, with activation fake-quant inserted when asked) and the quantized
    /// weights to substitute.
    func prepare(model: Model, dataset: Dataset) throws -> (Evaluator, QuantizedModelWeights?, Applied) {
        var applied = Applied()
        var quantized: QuantizedModelWeights?
        if let weights {
            let spec = try QuantizerSpec(parsing: weights)
            let start = DispatchTime.now().uptimeNanoseconds
            let q = try QuantizedModelWeights(model: model, spec: spec, threads: ProcessInfo.processInfo.activeProcessorCount)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            quantized = q
            applied.json["weights"] = spec.description
            applied.json["weight_bits_per_weight"] = q.bitsPerWeight
            applied.json["weight_size_mb"] = Double(q.totalBits) / 8 / 1_048_576
            applied.json["weight_payload_mb"] = Double(q.payloadBits) / 8 / 1_048_576
            let sqnr = q.weightSQNR(model: model)
            applied.json["weight_sqnr_db"] = sqnr.isFinite ? sqnr : nil
            applied.json["quantize_seconds"] = seconds
            applied.lines.append("weights   \(spec)  on \(q.layers.count) layers: \(fixed(q.bitsPerWeight, 3)) bits/weight with metadata, "
                + "\(fixed(Double(q.totalBits) / 8 / 1_048_576, 4)) MB (codes only \(fixed(Double(q.payloadBits) / 8 / 1_048_576, 4)) MB), "
                + "SQNR \(sqnr.isFinite ? fixed(sqnr, 2) : "inf") dB")
        }
        return (Evaluator(model: model, sampleShape: dataset.sampleShape), quantized, applied)
    }
}
