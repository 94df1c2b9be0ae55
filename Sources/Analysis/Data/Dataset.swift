import Executor
/// A labelled (or unlabelled) evaluation set, already in the model's input layout.
///
/// Samples are stored contiguously: sample `i` is `x[i * sampleSize ..< (i + 1) * sampleSize]`, row-major
/// over `sampleShape`. Without labels, metrics are fidelity to the FP32 model (top-1 agreement with its outputs).
public struct Dataset: Sendable, Equatable {
    /// The data file as the user named it; errors about the samples name it.
    public var source: String
    /// The labels file when labels came from a separate file (an IDX labels file found beside the
    /// images, or one given explicitly); nil when they came from `source` itself or there are none.
    public var labelSource: String?
    /// The shape of one sample: x's shape without the leading sample dimension, e.g. `[1, 28, 28]`.
    /// `[]` means each sample is a single scalar.
    public var sampleShape: [Int]
    /// `count * sampleSize` values, row-major.
    public var x: [Float]
    /// One class index per sample when present (checked against a model with `validateLabels`).
    public var labels: [Int]?

    /// Number of samples; 0 when `sampleShape` has a zero dimension (the loaders never produce one).
    public var count: Int { sampleSize > 0 ? x.count / sampleSize : 0 }

    /// Number of values per sample: the product of `sampleShape` (1 for `[]`); 0 if someone set a shape
    /// with a negative dimension or an overflowing product (never a trap).
    public var sampleSize: Int {
        var product = 1
        for dim in sampleShape {
            let (next, overflow) = product.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else { return 0 }
            product = next
        }
        return product
    }

    /// Builds a dataset from values in memory, checking that they are consistent.
    /// - Parameters:
    ///   - sampleShape: dimensions of one sample, all positive.
    ///   - x: a whole number of samples (0 is allowed).
    ///   - labels: nil, or exactly one per sample.
    /// - Throws: `QScopeError(file: source, ...)` when a dimension is not positive, `x.count` is not a
    ///   multiple of the sample size, or the label count differs from the sample count.
    public init(source: String, sampleShape: [Int], x: [Float], labels: [Int]? = nil, labelSource: String? = nil) throws {
        guard sampleShape.allSatisfy({ $0 > 0 }) else {
            throw QScopeError(file: source, "samples have shape \(NPY.describe(sampleShape)), which holds no values")
        }
        let size = try NPY.elementCount(sampleShape, file: source)
        guard x.count % size == 0 else {
            throw QScopeError(file: source, "\(x.count) values are not a whole number of samples of shape \(NPY.describe(sampleShape))")
        }
        if let labels, labels.count != x.count / size {
            throw QScopeError(file: labelSource ?? source, "there are \(labels.count) labels for \(x.count / size) samples")
        }
        self.init(unchecked: source, labelSource: labelSource, sampleShape: sampleShape, x: x, labels: labels)
    }

    /// For the loaders, which have already checked every invariant above.
    init(unchecked source: String, labelSource: String?, sampleShape: [Int], x: [Float], labels: [Int]?) {
        self.source = source
        self.labelSource = labelSource
        self.sampleShape = sampleShape
        self.x = x
        self.labels = labels
    }

    /// The first `n` samples (and their labels); `n` is clamped to `0...count`.
    public func prefix(_ n: Int) -> Dataset {
        let kept = min(max(n, 0), count)
        if kept == count { return self }
        var copy = self
        copy.x = Array(x[0..<(kept * sampleSize)])
        copy.labels = labels.map { Array($0.prefix(kept)) }
        return copy
    }
}
