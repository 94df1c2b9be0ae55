import Foundation
import Kernels

// Elementwise ops: unary functions, broadcasting binary arithmetic, comparisons and logic, Where,
// Clip, Cast and the variadic Sum/Mean/Max/Min.

/// A unary elementwise function applied to every element.
struct UnaryOperator: Operator {
    enum Function: Sendable {
        case relu, sigmoid, tanh, erf, sqrt, exp, log, neg, abs, reciprocal, floor, ceil, round, sign
        case not, isNaN, sin, cos, softplus, softsign
        case isInf(positive: Bool, negative: Bool)
        case leakyRelu(Float), elu(Float), selu(Float, Float), hardSigmoid(Float, Float), hardSwish
        /// x·tanh(softplus(x)).
        case mish
        /// max(0, x) + min(0, α·(e^(x/α) − 1)).
        case celu(alpha: Float)
        /// x + bias below −λ, x − bias above λ, 0 on [−λ, λ].
        case shrink(lambda: Float, bias: Float)
        /// x above α, else 0.
        case thresholdedRelu(alpha: Float)
        case gelu(tanhApproximation: Bool), clip(Float, Float), cast(DataType)
    }

    let outputTypes: [ValueType]
    let function: Function

    func forward(_ io: OperatorIO) {
        let n = outputTypes[0].count
        let x = io.input(0), y = io.output(0)
        if let kernel = kernelOp {
            unary(kernel, input: x, output: y, count: n, threads: io.threads)
        } else {
            map(x, y, n)
        }
    }

    /// The vectorised kernel for this function, when Kernels has one.
    private var kernelOp: UnaryOp? {
        switch function {
        case .relu: return .relu
        case .sigmoid: return .sigmoid
        case .tanh: return .tanh
        case .erf: return .erf
        case .exp: return .exp
        case .log: return .log
        case .sqrt: return .sqrt
        case .neg: return .neg
        case .abs: return .abs
        case .reciprocal: return .reciprocal
        case .softplus: return .softplus
        case .leakyRelu(let alpha): return .leakyRelu(alpha: alpha)
        case .hardSigmoid(let alpha, let beta): return .hardSigmoid(alpha: alpha, beta: beta)
        case .gelu(let approximate): return approximate ? .geluTanh : .gelu
        case .clip(let low, let high): return .clip(min: low, max: high)
        case .hardSwish: return .hardSwish
        default: return nil
        }
    }

    /// The scalar path for the less common functions.
    private func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let f: (Float) -> Float
        switch function {
        case .sqrt: f = { $0.squareRoot() }
        case .log: f = { Foundation.log($0) }
        case .neg: f = { -$0 }
        case .abs: f = { Swift.abs($0) }
        case .reciprocal: f = { 1 / $0 }
        case .floor: f = { $0.rounded(.down) }
        case .ceil: f = { $0.rounded(.up) }
        case .round: f = { $0.rounded(.toNearestOrEven) }
        case .sign: f = { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
        case .not: f = { $0 == 0 ? 1 : 0 }
        case .isNaN: f = { $0.isNaN ? 1 : 0 }
        case .isInf(let positive, let negative):
            f = { $0.isInfinite && ($0 > 0 ? positive : negative) ? 1 : 0 }
        case .sin: f = { Foundation.sin($0) }
        case .cos: f = { Foundation.cos($0) }
        case .softplus: f = { $0 > 20 ? $0 : Foundation.log1p(Foundation.exp($0)) }
        case .softsign: f = { $0 / (1 + Swift.abs($0)) }
        case .leakyRelu(let alpha): f = { $0 >= 0 ? $0 : alpha * $0 }
        case .elu(let alpha): f = { $0 >= 0 ? $0 : alpha * (Foundation.exp($0) - 1) }
        case .selu(let alpha, let gamma): f = { gamma * ($0 > 0 ? $0 : alpha * (Foundation.exp($0) - 1)) }
        case .hardSigmoid(let alpha, let beta): f = { Swift.max(0, Swift.min(1, alpha * $0 + beta)) }
        case .mish:
            // softplus(x) = x beyond 20 in float32, and tanh of it is 1 there.
            f = { x in x * Foundation.tanh(x > 20 ? x : Foundation.log1p(Foundation.exp(x))) }
        case .celu(let alpha): f = { $0 > 0 ? $0 : alpha * (Foundation.exp($0 / alpha) - 1) }
        case .shrink(let lambda, let bias): f = { $0 < -lambda ? $0 + bias : ($0 > lambda ? $0 - bias : 0) }
        case .thresholdedRelu(let alpha): f = { $0 > alpha ? $0 : 0 }
        case .cast(.bool): f = { $0 != 0 ? 1 : 0 }  // NaN and ±inf are true (non-zero), as in ONNX
        case .cast(let type) where type.isInteger:
            // Clamped first: converting a value beyond the Int64 range would trap.
            f = { Float(type.castValue(Swift.min(Swift.max(Double($0), -9.2e18), 9.2e18))) }
        case .cast(let type): f = { Float(type.castValue(Double($0))) }
        default: f = { $0 }
        }
        for i in 0..<n { y[i] = f(x[i]) }
    }

    static func builder(_ function: Function) -> OperatorBuilder {
        { c in
            let type = try c.type(0)
            // Predicates answer bool whatever the input type.
            if case .isNaN = function { return UnaryOperator(outputTypes: [ValueType(.bool, type.shape)], function: function) }
            return UnaryOperator(outputTypes: [type], function: function)
        }
    }

    static func withAttributes(_ c: OperatorContext) throws -> Operator {
        let type = try c.type(0)
        let function: Function
        switch c.node.opType {
        case "LeakyRelu": function = .leakyRelu(try c.float("alpha", 0.01))
        case "Elu": function = .elu(try c.float("alpha", 1))
        case "Selu": function = .selu(try c.float("alpha", 1.67326319217681884765625), try c.float("gamma", 1.05070102214813232421875))
        case "HardSigmoid": function = .hardSigmoid(try c.float("alpha", 0.2), try c.float("beta", 0.5))
        case "Celu":
            let alpha = try c.float("alpha", 1)
            guard alpha != 0 else { throw c.failure("alpha must not be 0") }
            function = .celu(alpha: alpha)
        case "Shrink": function = .shrink(lambda: try c.float("lambd", 0.5), bias: try c.float("bias", 0))
        case "ThresholdedRelu": function = .thresholdedRelu(alpha: try c.float("alpha", 1))
        case "IsInf":
            function = .isInf(positive: try c.int("detect_positive", 1) != 0, negative: try c.int("detect_negative", 1) != 0)
            return UnaryOperator(outputTypes: [ValueType(.bool, type.shape)], function: function)
        case "Gelu":
            let approximate = try c.string("approximate", "none")
            guard approximate == "none" || approximate == "tanh" else { throw c.failure("approximate '\(approximate)' is unknown") }
            function = .gelu(tanhApproximation: approximate == "tanh")
        case "Clip":
            if c.opset < 11 {
                function = .clip(try c.float("min", -.greatestFiniteMagnitude), try c.float("max", .greatestFiniteMagnitude))
            } else {
                let low = try c.optionalConstant(1, "min")?.scalar ?? -.infinity
                let high = try c.optionalConstant(2, "max")?.scalar ?? .infinity
                function = .clip(low, high)
            }
        case "Cast", "CastLike":
            let target: DataType?
            if c.node.opType == "CastLike" { target = try c.type(1).dataType } else { target = try castTarget(c) }
            guard let target, target != .string else { throw c.failure("cast to an unsupported type") }
            let result = UnaryOperator(outputTypes: [ValueType(target, type.shape)], function: .cast(target))
            return result
        default: throw c.failure("no unary function")
        }
        return UnaryOperator(outputTypes: [type], function: function)
    }
}

/// Cast's `to`: a `TensorProto.DataType` code from opset 6, the code's name ("FLOAT", "INT64") in opset 1.
private func castTarget(_ c: OperatorContext) throws -> DataType? {
    switch c.node.attributes["to"] {
    case .int(let code)?: return DataType(rawValue: code)
    case .string(let name)?:
        let codes: [String: DataType] = [
            "FLOAT": .float32, "UINT8": .uint8, "INT8": .int8, "UINT16": .uint16, "INT16": .int16, "INT32": .int32,
            "INT64": .int64, "BOOL": .bool, "FLOAT16": .float16, "DOUBLE": .float64, "UINT32": .uint32, "UINT64": .uint64,
            "BFLOAT16": .bfloat16,
        ]
        guard let type = codes[name.uppercased()] else { throw c.failure("cast to '\(name)' is not supported") }
        return type
    case nil: throw c.failure("attribute 'to' is missing")
    default: throw c.failure("attribute 'to' must be a type code")
    }
}

/// Binary elementwise ops with numpy broadcasting.
struct BinaryOperator: Operator {
    enum Function: Sendable, Equatable {
        case arithmetic(BinaryOp)
        case equal, less, lessOrEqual, greater, greaterOrEqual, and, or, xor
        case mod(fmod: Bool), bitShift
    }

    let outputTypes: [ValueType]
    let function: Function
    let aShape: [Int]
    let bShape: [Int]
    /// Integer semantics (truncating division) when both operands are integers.
    let integerDivision: Bool

    func forward(_ io: OperatorIO) {
        let a = io.input(0), b = io.input(1), out = io.output(0)
        let shape = outputTypes[0].shape
        if case .arithmetic(let op) = function {
            broadcastBinary(op, a: a, aShape: aShape, b: b, bShape: bShape, out: out, outShape: shape, threads: io.threads)
            if integerDivision && op == .div {
                for i in 0..<outputTypes[0].count { out[i] = out[i].rounded(.towardZero) }
            }
            return
        }
        let f: (Float, Float) -> Float
        switch function {
        case .equal: f = { $0 == $1 ? 1 : 0 }
        case .less: f = { $0 < $1 ? 1 : 0 }
        case .lessOrEqual: f = { $0 <= $1 ? 1 : 0 }
        case .greater: f = { $0 > $1 ? 1 : 0 }
        case .greaterOrEqual: f = { $0 >= $1 ? 1 : 0 }
        case .and: f = { $0 != 0 && $1 != 0 ? 1 : 0 }
        case .or: f = { $0 != 0 || $1 != 0 ? 1 : 0 }
        case .xor: f = { ($0 != 0) != ($1 != 0) ? 1 : 0 }
        case .mod(let fmod):
            f = { x, y in
                let r = Foundation.fmod(x, y)
                if fmod || r == 0 || (r < 0) == (y < 0) { return r }
                return r + y
            }
        default: f = { x, _ in x }
        }
        let sa = Shapes.broadcastStrides(aShape, to: shape), sb = Shapes.broadcastStrides(bShape, to: shape)
        BroadcastLoop.forEach(shape: shape, strides: [sa, sb]) { i, offsets in out[i] = f(a[offsets[0]], b[offsets[1]]) }
    }

    static func builder(_ function: Function) -> OperatorBuilder {
        { c in
            let a = try c.type(0), b = try c.type(1)
            guard let shape = Shapes.broadcast(a.shape, b.shape) else {
                throw c.failure("shapes \(a.shape) and \(b.shape) do not broadcast")
            }
            var function = function
            if c.node.opType == "Mod" { function = .mod(fmod: try c.int("fmod", 0) != 0) }
            let isComparison: Bool
            switch function {
            case .arithmetic, .mod, .bitShift: isComparison = false
            default: isComparison = true
            }
            let type = isComparison ? DataType.bool : a.dataType
            return BinaryOperator(outputTypes: [ValueType(type, shape)], function: function, aShape: a.shape,
                                  bShape: b.shape, integerDivision: a.dataType.isInteger && b.dataType.isInteger)
        }
    }
}

/// Where(condition, x, y) with three-way broadcasting.
struct WhereOperator: Operator {
    let outputTypes: [ValueType]
    let strides: [[Int]]

    func forward(_ io: OperatorIO) {
        let c = io.input(0), x = io.input(1), y = io.input(2), out = io.output(0)
        BroadcastLoop.forEach(shape: outputTypes[0].shape, strides: strides) { i, o in
            out[i] = c[o[0]] != 0 ? x[o[1]] : y[o[2]]
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let shapes = try (0..<3).map { try c.shape($0) }
        guard let ab = Shapes.broadcast(shapes[0], shapes[1]), let shape = Shapes.broadcast(ab, shapes[2]) else {
            throw c.failure("shapes \(shapes) do not broadcast")
        }
        return WhereOperator(outputTypes: [ValueType(try c.type(1).dataType, shape)],
                             strides: shapes.map { Shapes.broadcastStrides($0, to: shape) })
    }
}

/// Sum, Mean, Max and Min over any number of broadcasting inputs.
struct VariadicOperator: Operator {
    let outputTypes: [ValueType]
    let op: BinaryOp
    let shapes: [[Int]]
    let mean: Bool

    func forward(_ io: OperatorIO) {
        let out = io.output(0), shape = outputTypes[0].shape, n = outputTypes[0].count
        let strides = Shapes.broadcastStrides(shapes[0], to: shape)
        let first = io.input(0)
        BroadcastLoop.forEach(shape: shape, strides: [strides]) { i, o in out[i] = first[o[0]] }
        for k in 1..<shapes.count {
            broadcastBinary(op, a: UnsafePointer(out), aShape: shape, b: io.input(k), bShape: shapes[k], out: out, outShape: shape,
                            threads: io.threads)
        }
        if mean {
            let scale = 1 / Float(shapes.count)
            for i in 0..<n { out[i] *= scale }
        }
    }

    static func make(_ c: OperatorContext) throws -> Operator {
        let types = try (0..<c.inputCount).map { try c.type($0) }
        guard !types.isEmpty else { throw c.failure("no inputs") }
        var shape = types[0].shape
        for t in types.dropFirst() {
            guard let s = Shapes.broadcast(shape, t.shape) else { throw c.failure("inputs do not broadcast") }
            shape = s
        }
        let op: BinaryOp
        switch c.node.opType {
        case "Max": op = .max
        case "Min": op = .min
        default: op = .add
        }
        return VariadicOperator(outputTypes: [ValueType(types[0].dataType, shape)], op: op, shapes: types.map(\.shape),
                                mean: c.node.opType == "Mean")
    }
}

/// Visits every index of a broadcast shape with the matching offsets into several operands.
enum BroadcastLoop {
    /// Calls `body(flatIndex, offsets)` in row-major order; `strides[k]` are operand k's element strides
    /// for `shape` (0 on broadcast dims). Allocates only small stack buffers.
    @inline(__always)
    static func forEach(shape: [Int], strides: [[Int]], _ body: (Int, UnsafeMutablePointer<Int>) -> Void) {
        let count = shape.reduce(1, *)
        guard count > 0 else { return }
        let rank = shape.count, operands = strides.count
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank + operands) { buffer in
            let index = buffer.baseAddress!, offsets = buffer.baseAddress! + rank
            for d in 0..<rank { index[d] = 0 }
            for k in 0..<operands { offsets[k] = 0 }
            for flat in 0..<count {
                body(flat, offsets)
                var d = rank - 1
                while d >= 0 {
                    index[d] += 1
                    for k in 0..<operands { offsets[k] += strides[k][d] }
                    if index[d] < shape[d] { break }
                    for k in 0..<operands { offsets[k] -= strides[k][d] * shape[d] }
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }
}
