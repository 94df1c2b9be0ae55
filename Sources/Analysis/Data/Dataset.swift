import Executor
/// A labelled (or unlabelled) evaluation set: one array of samples per model input, in the model's
/// input order once bound (`fitted(to:)`), and optional integer labels.
///
/// Every array holds the same number of samples. Without labels, metrics are fidelity to the FP32
/// model on the same samples (see `FidelityMetric`).
public struct Dataset: Sendable, Equatable {
    /// The data file as the user named it; errors about the samples name it.
    public var source: String
    /// The labels file when labels came from a separate file (an IDX labels file found beside the
    /// images, or one given explicitly); nil when they came from `source` itself or there are none.
    public var labelSource: String?
    /// The arrays, at least one, all with `count` samples.
    public var arrays: [SampleArray]
    /// One class index per sample when present (checked against a model with `validateLabels`).
    public var labels: [Int]?

    /// Number of samples (every array has this many).
    public var count: Int { arrays.first?.count ?? 0 }

    /// The sample shape of each array, in order: what a model is compiled for (with the batch first).
    public var sampleShapes: [[Int]] { arrays.map(\.sampleShape) }

    /// Builds a single-array dataset of float samples, checking that the values are consistent.
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
        self.init(unchecked: source, labelSource: labelSource,
                  arrays: [SampleArray(name: "x", sampleShape: sampleShape, floats: x)], labels: labels)
    }

    /// For the loaders, which have already checked every invariant above.
    init(unchecked source: String, labelSource: String?, arrays: [SampleArray], labels: [Int]?) {
        self.source = source
        self.labelSource = labelSource
        self.arrays = arrays
        self.labels = labels
    }

    /// The one array of a single-array dataset (images, features): what the single-input helpers and
    /// the tests read. Multi-input code uses `arrays`.
    public var x: [Float] {
        precondition(arrays.count == 1, "Dataset.x is for single-array datasets")
        return arrays[0].values
    }

    /// The sample shape of a single-array dataset (see `x`).
    public var sampleShape: [Int] {
        get {
            precondition(arrays.count == 1, "Dataset.sampleShape is for single-array datasets")
            return arrays[0].sampleShape
        }
        set {
            precondition(arrays.count == 1, "Dataset.sampleShape is for single-array datasets")
            arrays[0].sampleShape = newValue
        }
    }

    /// Values per sample of a single-array dataset (see `x`).
    public var sampleSize: Int {
        precondition(arrays.count == 1, "Dataset.sampleSize is for single-array datasets")
        return arrays[0].sampleSize
    }

    /// The first `n` samples (and their labels); `n` is clamped to `0...count`.
    public func prefix(_ n: Int) -> Dataset {
        let kept = min(max(n, 0), count)
        if kept == count { return self }
        var copy = self
        copy.arrays = arrays.map { $0.prefix(kept) }
        copy.labels = labels.map { Array($0.prefix(kept)) }
        return copy
    }

    /// Calls `body` with one pointer per array at sample `first` (what `CompiledGraph.run` takes for
    /// a batch starting there). The pointers are valid only inside `body`.
    public func withInputs<R>(from first: Int, _ body: ([UnsafePointer<Float>]) throws -> R) rethrows -> R {
        precondition(count > 0 && first >= 0 && first <= count, "sample index out of range")
        func bind(_ index: Int, _ bound: [UnsafePointer<Float>]) throws -> R {
            if index == arrays.count { return try body(bound) }
            return try arrays[index].values.withUnsafeBufferPointer { buffer in
                try bind(index + 1, bound + [buffer.baseAddress! + first * arrays[index].sampleSize])
            }
        }
        return try bind(0, [])
    }
}
