import Executor

/// One named array of samples: what feeds one model input (token ids, an attention mask, images).
///
/// Values are stored as `Float`, like every value the executor computes with; integer and bool
/// arrays hold exact whole numbers (the loaders refuse integers beyond ±2^24, which a `Float`
/// cannot hold exactly). Sample `i` is `values[i * sampleSize ..< (i + 1) * sampleSize]`, row-major
/// over `sampleShape`.
public struct SampleArray: Sendable, Equatable {
    /// The array's key in the file (`x` for single-array files, IDX images and `.npy`).
    public var name: String
    /// The element type as stored in the file (`int64`, `float32`, `bool`, ...): what a model
    /// input's type is checked against, and how messages name it.
    public var dataType: DataType
    /// The shape of one sample (the file's shape without the leading sample dimension); `[]` for scalars.
    public var sampleShape: [Int]
    /// `count * sampleSize` values, row-major.
    public var values: [Float]

    /// Values per sample: the product of `sampleShape` (1 for `[]`), 0 on a negative or overflowing
    /// dimension (never a trap).
    public var sampleSize: Int {
        var product = 1
        for dim in sampleShape {
            let (next, overflow) = product.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else { return 0 }
            product = next
        }
        return product
    }

    /// Number of samples; 0 when a sample holds no values.
    public var count: Int { sampleSize > 0 ? values.count / sampleSize : 0 }

    /// `name int64 [N, 64]`: how messages list an array (`N` = its sample count).
    public var summary: String {
        "\(name) \(dataType) [\(([String(count)] + sampleShape.map(String.init)).joined(separator: ", "))]"
    }

    public init(name: String, dataType: DataType, sampleShape: [Int], values: [Float]) {
        self.name = name
        self.dataType = dataType
        self.sampleShape = sampleShape
        self.values = values
    }

    /// A float32 array (images, features).
    public init(name: String, sampleShape: [Int], floats: [Float]) {
        self.init(name: name, dataType: .float32, sampleShape: sampleShape, values: floats)
    }

    /// Whether an input of type `input` can take these elements: floats feed float inputs; integers
    /// and bools feed integer and bool inputs (a mask saved as int64 or bool is the same mask).
    public func feeds(_ input: DataType) -> Bool {
        dataType.isFloat ? input.isFloat : input.isInteger
    }

    /// The first `n` samples (`n` clamped to `0...count`).
    func prefix(_ n: Int) -> SampleArray {
        var copy = self
        copy.values = Array(values.prefix(min(max(n, 0), count) * sampleSize))
        return copy
    }
}
