import Analysis
import ArgumentParser
import Foundation

/// `--weights`, `--activations` and `--calib` of `qscope eval`: the quantizers applied before the pass.
struct QuantizationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Quantize every quantizable layer's weight with SPEC (e.g. int4, fp4:e2m1:block=32, lut3, split3:int2).",
                                            valueName: "SPEC"))
    var weights: String?

    @Option(name: .long, help: ArgumentHelp("Fake-quantize each quantizable layer's input per tensor: intB[:asym][:clip=mse|clip=pNN.N].",
                                            valueName: "SPEC"))
    var activations: String?

    @Option(name: .long, help: "Calibrate activation ranges on the first N samples.")
    var calib: Int = 512

    func validate() throws {
        if calib < 1 { throw ValidationError("--calib must be at least 1") }
    }

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
        var evaluated = model
        if let activations {
            let spec = try ActivationSpec(parsing: activations)
            let calibration = dataset.prefix(calib)
            let (withFakeQuant, calibrated) = try ActivationQuantization.apply(spec, to: model, calibration: calibration)
            evaluated = withFakeQuant
            applied.json["activations"] = spec.description
            applied.json["calibration_samples"] = calibration.count
            applied.lines.append("acts      \(spec)  at \(calibrated.count) layer inputs, calibrated on \(calibration.count) samples")
        }
        return (Evaluator(model: evaluated, sampleShape: dataset.sampleShape), quantized, applied)
    }
}
