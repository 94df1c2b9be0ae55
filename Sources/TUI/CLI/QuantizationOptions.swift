import Analysis
import ArgumentParser
import Executor
import Foundation

/// `--weights`, `--activations` and `--calib` of `qscope eval`: the quantizers applied before the pass.
struct QuantizationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Quantize every quantizable layer's weight with SPEC (e.g. int4, fp4:e2m1:block=32, lut3, split3:int2).",
                                            valueName: "SPEC"))
    var weights: String?

    @Option(name: .long, help: ArgumentHelp("Fake-quantize each quantizable layer's input per tensor: intB[:asym][:clip=mse|clip=pNN.N][:smooth=α[:bias]] (SmoothQuant / SQ-b at Gemm and MatMul inputs).",
                                            valueName: "SPEC"))
    var activations: String?

    @Option(name: .long, help: "Calibrate activation ranges, and the Fisher diagonal that weights lut's k-means, on the first N samples.")
    var calib: Int = 512

    @Flag(name: .long, help: "lut: plain k-means, without the Fisher weighting computed from gradients on the calibration samples.")
    var plainLut = false

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
        var evaluated = model
        var smoothed = false
        // Activations first: with smooth=α the weights to quantize are the smoothed ones (Ŵ = W·s).
        if let activations {
            let spec = try ActivationSpec(parsing: activations)
            let calibration = dataset.prefix(calib)
            let prepared = try ActivationQuantization.prepare(spec, to: model, calibration: calibration)
            evaluated = prepared.model
            applied.json["activations"] = spec.description
            applied.json["calibration_samples"] = calibration.count
            applied.lines.append("acts      \(spec)  at \(prepared.calibrated.count) layer inputs, calibrated on \(calibration.count) samples")
            if let smoothing = prepared.smoothing {
                smoothed = !smoothing.layers.isEmpty
                applied.json["smoothed_layers"] = smoothing.layers.map(\.name)
                applied.json["smoothing_skipped"] = smoothing.skipped.map { ["layer": $0.name, "reason": $0.reason] }
                let dead = smoothing.layers.reduce(0) { $0 + $1.deadChannels }
                applied.json["smoothing_dead_channels"] = dead
                applied.lines.append("smooth    \(spec.smoothing!.bias ? "SQ-b" : "SmoothQuant") on \(smoothing.layers.count) Gemm/MatMul layers"
                    + (dead > 0 ? " (\(dead) dead channels left unscaled)" : "")
                    + Dictionary(grouping: smoothing.skipped, by: \.reason).sorted { $0.key < $1.key }.map { reason, layers in
                        "; not smoothed (\(reason)): " + layers.map(\.name).joined(separator: ", ")
                    }.joined())
            }
        }
        var quantized: QuantizedModelWeights?
        if let weights {
            let spec = try QuantizerSpec(parsing: weights)
            let start = DispatchTime.now().uptimeNanoseconds
            var fisher: FisherDiagonal?
            if spec.usesSensitivity {
                if plainLut {
                    applied.json["lut_weighting"] = "plain"
                } else if smoothed {
                    // The smoothed weights W·s are not the ones the gradients were taken for.
                    applied.json["lut_weighting"] = "plain"
                    applied.lines.append("lut       plain k-means: the Fisher weighting is not computed for smoothed weights")
                } else if let f = try Self.fisherOrNil(model: model, dataset: dataset, samples: calib, applied: &applied) {
                    fisher = f
                    applied.json["lut_weighting"] = "fisher"
                    applied.json["fisher_samples"] = f.samples
                    applied.json["fisher_loss"] = f.lossKind
                    applied.json["fisher_seconds"] = f.seconds
                    applied.lines.append("lut       k-means weighted by the Fisher diagonal (\(f.lossKind), \(f.samples) samples, \(fixed(f.seconds, 2)) s)")
                }
            }
            let q = try QuantizedModelWeights(model: evaluated, spec: spec, fisher: fisher,
                                              threads: ProcessInfo.processInfo.activeProcessorCount)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            quantized = q
            applied.json["weights"] = spec.description
            applied.json["weight_bits_per_weight"] = q.bitsPerWeight
            applied.json["weight_size_mb"] = Double(q.totalBits) / 8 / 1_048_576
            applied.json["weight_payload_mb"] = Double(q.payloadBits) / 8 / 1_048_576
            let sqnr = q.weightSQNR(model: evaluated)
            applied.json["weight_sqnr_db"] = sqnr.isFinite ? sqnr : nil
            applied.json["quantize_seconds"] = seconds
            applied.lines.insert("weights   \(spec)  on \(q.layers.count) layers: \(fixed(q.bitsPerWeight, 3)) bits/weight with metadata, "
                + "\(fixed(Double(q.totalBits) / 8 / 1_048_576, 4)) MB (codes only \(fixed(Double(q.payloadBits) / 8 / 1_048_576, 4)) MB), "
                + "SQNR \(sqnr.isFinite ? fixed(sqnr, 2) : "inf") dB" + (smoothed ? " (of the smoothed weights W·s)" : ""), at: 0)
        }
        return (Evaluator(model: evaluated, sampleShape: dataset.sampleShape), quantized, applied)
    }

    /// The Fisher diagonal, or nil (plain k-means, reason reported in `applied`) when the model has no
    /// gradients (an op without a backward pass).
    static func fisherOrNil(model: Model, dataset: Dataset, samples: Int, applied: inout Applied) throws -> FisherDiagonal? {
        do {
            return try FisherDiagonal.compute(model: model, data: dataset, samples: samples)
        } catch let error as QScopeError {
            applied.json["lut_weighting"] = "plain"
            applied.json["fisher_unavailable"] = error.description
            applied.lines.append("lut       plain k-means: no gradients for the Fisher weighting (\(error.description))")
            return nil
        }
    }
}
