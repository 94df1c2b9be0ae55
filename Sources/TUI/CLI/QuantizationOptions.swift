import Analysis
import ArgumentParser
import Executor

/// `--weights`, `--activations`, `--calib` and `--plain-lut` of `qscope eval`: one quantizer for
/// every layer, applied before the pass (`UniformQuantizationPipeline`).
struct QuantizationOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Quantize every quantizable layer's weight with SPEC (e.g. int4, fp4:e2m1:block=32, lut3, split3:int2).",
                                            valueName: "SPEC"))
    var weights: String?

    @Option(name: .long, help: ArgumentHelp("Fake-quantize each quantizable layer's input per tensor: intB[:asym][:clip=mse|clip=pNN.N][:smooth=α[:bias]] (SmoothQuant / SQ-b at Gemm and MatMul inputs).",
                                            valueName: "SPEC"))
    var activations: String?

    @OptionGroup var calibration: CalibrationOptions

    @OptionGroup var lut: LutOptions

    /// The pipeline the options describe (the specs parsed; a bad spec throws a one-line error).
    func pipeline() throws -> UniformQuantizationPipeline {
        UniformQuantizationPipeline(weights: try weights.map { try QuantizerSpec(parsing: $0) },
                                    activations: try activations.map { try ActivationSpec(parsing: $0) },
                                    calibrationSamples: calibration.samples, plainLut: lut.plainLut)
    }
}
