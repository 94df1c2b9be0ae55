import Kernels

/// `QScopeFakeQuant` (qscope's own op, inserted by `ActivationQuantization`): static per-tensor
/// quantize-dequantize of an activation, `y = (clamp(round(x / scale) + zero_point, lo, hi) −
/// zero_point)·scale`, round half to even (symmetric absmax or min-max affine, as for weights).
///
/// Attributes: `bits` (2…16), `affine` (0: symmetric codes ±(2^(B−1) − 1); 1: codes 0…2^B − 1 with
/// `zero_point`), `scale` (float, 0 passes zeros through as zeros), `zero_point` (int).
struct FakeQuantOperator: Operator {
    let outputTypes: [ValueType]
    let count: Int
    let quantizer: IntegerQuantizer
    let scale: Float
    let zero: Int32

    /// Elements per parallel chunk.
    private static let chunk = 1 << 15

    func forward(_ io: OperatorIO) {
        let x = io.input(0), y = io.output(0)
        let chunks = (count + Self.chunk - 1) / Self.chunk
        Parallel.forEach(chunks, threads: io.threads) { c in
            let start = c * Self.chunk
            quantizer.fakeQuantize(x + start, count: min(Self.chunk, count - start), scale: scale, zero: zero,
                                   into: y + start)
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let x = try c.type(0)
        let bits = try c.int("bits", 8)
        guard (2...16).contains(bits) else { throw c.failure("bits must be 2..16, got \(bits)") }
        let affine = try c.int("affine", 0) != 0
        let quantizer = IntegerQuantizer(bits: bits, mapping: affine ? .affine : .symmetric)
        let scale = try c.float("scale", 0)
        guard scale >= 0, scale.isFinite else { throw c.failure("scale must be finite and >= 0") }
        let zero = try c.int("zero_point", 0)
        guard quantizer.codeRange.contains(Int32(clamping: zero)) else { throw c.failure("zero_point \(zero) outside the code range") }
        return FakeQuantOperator(outputTypes: [x], count: x.count, quantizer: quantizer, scale: scale, zero: Int32(zero))
    }
}
