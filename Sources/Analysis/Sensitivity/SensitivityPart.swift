import Executor
/// The parts of a sensitivity analysis (`qscope analyze --only <part>`), in the order they run:
/// the cheap ones first, so that the workbench can show them while the Hessian passes run.
public enum SensitivityPart: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Weight outlier clusters (k = 3 k-means, IQR and 3σ counts): no forward pass.
    case outliers
    /// Activation statistics at each layer's input: two forward passes over the calibration samples.
    case activations
    /// Hutchinson Hessian traces and HAWQ-V2 Ω.
    case hessian
    /// Top Hessian eigenvalue of each layer's block (power iteration, HAWQ v1).
    case eigen
    /// Accuracy with only one layer quantized at 2 and 4 bits, and the drop against FP32.
    case drop

    public static func < (a: SensitivityPart, b: SensitivityPart) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
