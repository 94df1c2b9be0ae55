/// A constant tensor: an initializer, a `Constant` node's value, or a folded result.
///
/// Values are row-major. `values` always holds the elements as `Float` (what the executor computes
/// with), either owned or, for float32 external data, read in place from the mapped file
/// (`TensorStorage`); for integer and bool types `integers` additionally holds the exact values, so
/// that shape parameters (`Reshape`'s shape, `Slice`'s ends such as `INT64_MAX`) are read without
/// rounding.
public struct Tensor: Sendable, Equatable {
    public var dataType: DataType
    public var shape: [Int]
    public var values: TensorStorage
    public var integers: [Int64]?

    /// Number of elements (1 for a scalar, 0 when any dim is 0).
    public var count: Int { shape.reduce(1, *) }

    /// A float tensor. `values.count` must equal the product of `shape`.
    public init(shape: [Int], values: [Float], dataType: DataType = .float32) {
        precondition(values.count == shape.reduce(1, *), "tensor value count does not match its shape")
        self.dataType = dataType
        self.shape = shape
        self.values = TensorStorage(values)
        self.integers = dataType.isInteger ? values.map { Int64($0) } : nil
    }

    /// A float tensor over existing storage (e.g. a view of a mapped file), without copying.
    /// `values.count` must equal the product of `shape`.
    public init(shape: [Int], values: TensorStorage, dataType: DataType = .float32) {
        precondition(values.count == shape.reduce(1, *), "tensor value count does not match its shape")
        self.dataType = dataType
        self.shape = shape
        self.values = values
        self.integers = dataType.isInteger ? values.map { Int64($0) } : nil
    }

    /// An integer (or bool) tensor holding exact values.
    public init(shape: [Int], integers: [Int64], dataType: DataType = .int64) {
        precondition(integers.count == shape.reduce(1, *), "tensor value count does not match its shape")
        self.dataType = dataType
        self.shape = shape
        self.integers = integers
        self.values = TensorStorage(integers.map { Float($0) })
    }

    /// A tensor of `dataType` from float results (e.g. computed by a float kernel during folding),
    /// rounding through `DataType.castValue` so that integer tensors stay integral.
    public init(shape: [Int], computed: [Float], dataType: DataType) {
        if dataType.isInteger {
            self.init(shape: shape, integers: computed.map { Int64(dataType.castValue(Double($0))) },
                      dataType: dataType)
        } else {
            self.init(shape: shape, values: computed, dataType: dataType)
        }
    }

    /// The exact integer values: `integers` for integer types, the float values truncated otherwise.
    public var integerValues: [Int64] { integers ?? values.map { $0.isFinite ? Int64($0) : 0 } }

    /// The integer values as `Int`, for shape parameters.
    public var ints: [Int] { integerValues.map { Int(clamping: $0) } }

    /// The value of a one-element tensor, as `Float`.
    public var scalar: Float? { count == 1 ? values[0] : nil }
}
