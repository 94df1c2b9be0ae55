import Executor
import Foundation
import Kernels
import Testing

/// QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger and DynamicQuantizeLinear against a naive
/// reference: the integer sums in Int64, the requantization as ONNX Runtime's kernel computes it
/// (`Float(acc) · ((x_scale · w_scale) / y_scale)` in float32, round half to even, saturate). The
/// reductions are long (K up to 4,608 with full-range uint8 codes), far past the 2^24 a single float32
/// sum keeps exact, so a missing or wrong chunking shows. (ONNX Runtime itself is compared on whole
/// models in the quantized-model fixture tests.)
@Suite("quantized integer ops")
struct QuantizedOpsTests {
    /// Random codes from a seeded generator, so failures reproduce.
    struct Codes {
        var random: SplitMix64
        init(state: UInt64) { random = SplitMix64(seed: state) }
        mutating func uint8(_ count: Int) -> [Int64] { (0..<count).map { _ in Int64(random.next() % 256) } }
        mutating func int8(_ count: Int) -> [Int64] { (0..<count).map { _ in Int64(random.next() % 256) - 128 } }
    }

    /// Runs one node whose inputs are all given; `runtime` names the inputs bound at run time (float
    /// buffers), the others are constants (so the weight goes through `Model`'s dequantized form).
    static func run(_ opType: String, inputs: [(String, Tensor?)], outputs: Int = 1, attributes: [String: Attribute] = [:],
                    runtime: Set<String> = ["x"]) throws -> [[Float]] {
        var graph = Graph(opset: 13)
        var ids: [ValueID?] = []
        var feeds: [[Float]] = []
        for (name, tensor) in inputs {
            guard let tensor else {
                ids.append(nil)
                continue
            }
            let id = graph.addValue(named: name)
            ids.append(id)
            if runtime.contains(name) {
                graph.inputs.append(ValueSpec(name: name, dataType: tensor.dataType, dims: tensor.shape))
                graph.inputIDs.append(id)
                feeds.append(tensor.values.array)
            } else {
                graph.constants[id] = tensor
            }
        }
        let outs = (0..<outputs).map { graph.addValue(named: "y\($0)") }
        graph.nodes = [Node(name: "node", opType: opType, inputs: ids, outputs: outs, attributes: attributes)]
        graph.outputIDs = outs
        graph.outputs = outs.map { ValueSpec(name: graph.valueNames[$0], dataType: .float32, dims: []) }
        let model = try Model(path: "test.onnx", raw: graph)
        let compiled = try CompiledGraph(graph: model.graph, inputShapes: inputs.compactMap { name, t in
            runtime.contains(name) ? t?.shape : nil
        })
        let buffers = feeds.map { values -> UnsafeMutablePointer<Float> in
            let b = UnsafeMutablePointer<Float>.allocate(capacity: values.count)
            b.initialize(from: values, count: values.count)
            return b
        }
        defer { buffers.forEach { $0.deallocate() } }
        compiled.run(buffers.map { UnsafePointer($0) })
        return (0..<outputs).map { Array(compiled.output($0)) }
    }

    static func requantize(_ acc: Int64, _ multiplier: Float, zero: Int64, low: Float, high: Float) -> Float {
        min(max((Float(acc) * multiplier).rounded(.toNearestOrEven) + Float(zero), low), high)
    }

    @Test("MatMulInteger: exact int32 sums over K = 4608 full-range uint8 codes with per-column zero points, beyond 2^24")
    func matMulIntegerLongReduction() throws {
        var codes = Codes(state: 1)
        let (m, k, n) = (3, 4608, 5)
        // Zero points at the ends of the range: centred codes of one sign, so the sums reach ~7e7,
        // beyond the 2^24 a float32 sum keeps exact.
        let a = codes.uint8(m * k), b = codes.uint8(k * n), aZero: [Int64] = [0], bZero: [Int64] = [255, 0, 128, 3, 250]
        let got = try Self.run("MatMulInteger", inputs: [
            ("x", Tensor(shape: [m, k], integers: a, dataType: .uint8)), ("b", Tensor(shape: [k, n], integers: b, dataType: .uint8)),
            ("a_zp", Tensor(shape: [], integers: aZero, dataType: .uint8)), ("b_zp", Tensor(shape: [n], integers: bZero, dataType: .uint8)),
        ])[0]
        for i in 0..<m {
            for j in 0..<n {
                var acc: Int64 = 0
                for p in 0..<k { acc += (a[i * k + p] - aZero[0]) * (b[p * n + j] - bZero[j]) }
                if j != 2 { #expect(abs(acc) > 1 << 24) }
                // The executor stores values as Float: the exact sum, rounded once.
                #expect(got[i * n + j] == Float(acc), "[\(i), \(j)]: \(got[i * n + j]) vs \(acc)")
            }
        }
    }

    @Test("QLinearMatMul: int8 weights per column, uint8 activations, batch broadcast, requantized as ORT")
    func qlinearMatMul() throws {
        var codes = Codes(state: 2)
        let (batch, m, k, n) = (2, 4, 1500, 6)
        let a = codes.uint8(batch * m * k), b = codes.int8(k * n)
        let aScale: Float = 0.0123, aZero: Int64 = 131, yScale: Float = 0.731, yZero: Int64 = 117
        let bScales = (0..<n).map { Float(0.002 + 0.0007 * Double($0)) }
        let got = try Self.run("QLinearMatMul", inputs: [
            ("x", Tensor(shape: [batch, m, k], integers: a, dataType: .uint8)),
            ("a_scale", Tensor(shape: [], values: [aScale])), ("a_zp", Tensor(shape: [], integers: [aZero], dataType: .uint8)),
            ("b", Tensor(shape: [k, n], integers: b, dataType: .int8)), ("b_scale", Tensor(shape: [n], values: bScales)),
            ("b_zp", Tensor(shape: [n], integers: Array(repeating: 0, count: n), dataType: .int8)),
            ("y_scale", Tensor(shape: [], values: [yScale])), ("y_zp", Tensor(shape: [], integers: [yZero], dataType: .uint8)),
        ])[0]
        var saturated = 0
        for s in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var acc: Int64 = 0
                    for p in 0..<k { acc += (a[(s * m + i) * k + p] - aZero) * b[p * n + j] }
                    let want = Self.requantize(acc, (aScale * bScales[j]) / yScale, zero: yZero, low: 0, high: 255)
                    if want == 0 || want == 255 { saturated += 1 }
                    #expect(got[(s * m + i) * n + j] == want, "[\(s), \(i), \(j)]")
                }
            }
        }
        #expect(saturated < batch * m * n / 2, "the scales should keep most outputs inside the range")
    }

    /// A grouped, strided, padded, dilated 2-D case with per-channel weight scales.
    static func convCase(_ codes: inout Codes) -> (x: [Int64], w: [Int64], bias: [Int64], xShape: [Int], wShape: [Int]) {
        let xShape = [2, 8, 9, 7], wShape = [6, 4, 3, 3]
        return (codes.uint8(xShape.reduce(1, *)), codes.int8(wShape.reduce(1, *)),
                (0..<6).map { Int64($0 * 977) - 2000 }, xShape, wShape)
    }

    static let convAttributes: [String: Attribute] = [
        "group": .int(2), "strides": .ints([2, 1]), "pads": .ints([1, 2, 0, 1]), "dilations": .ints([1, 2]),
    ]

    /// The integer sums of `convCase` in Int64, [n, oc, oy, ox] with the output dims.
    static func referenceConv(x: [Int64], xZero: Int64, w: [Int64], wZero: [Int64], xShape: [Int], wShape: [Int])
        -> (sums: [Int64], shape: [Int]) {
        let (n, c, h, wd) = (xShape[0], xShape[1], xShape[2], xShape[3])
        let (m, cg, kh, kw) = (wShape[0], wShape[1], wShape[2], wShape[3])
        let group = c / cg, mg = m / group
        let (sh, sw, pt, pl, dh, dw) = (2, 1, 1, 2, 1, 2)
        let oh = (h + 1 + 0 - ((kh - 1) * dh + 1)) / sh + 1, ow = (wd + 2 + 1 - ((kw - 1) * dw + 1)) / sw + 1
        var sums = [Int64](repeating: 0, count: n * m * oh * ow)
        for b in 0..<n { for oc in 0..<m { for oy in 0..<oh { for ox in 0..<ow {
            var acc: Int64 = 0
            let g = oc / mg
            for ci in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                let xv = x[((b * c + g * cg + ci) * h + iy) * wd + ix] - xZero
                acc += xv * (w[((oc * cg + ci) * kh + ky) * kw + kx] - wZero[wZero.count == 1 ? 0 : oc])
            } } }
            sums[((b * m + oc) * oh + oy) * ow + ox] = acc
        } } } }
        return (sums, [n, m, oh, ow])
    }

    @Test("QLinearConv: grouped, strided, padded, dilated, per-channel int8 weights, int32 bias, requantized as ORT")
    func qlinearConv() throws {
        var codes = Codes(state: 3)
        let (x, w, bias, xShape, wShape) = Self.convCase(&codes)
        let xScale: Float = 0.02, xZero: Int64 = 120, yScale: Float = 0.35, yZero: Int64 = 3
        let wScales = (0..<6).map { Float(0.003 + 0.001 * Double($0)) }
        let got = try Self.run("QLinearConv", inputs: [
            ("x", Tensor(shape: xShape, integers: x, dataType: .uint8)),
            ("x_scale", Tensor(shape: [], values: [xScale])), ("x_zp", Tensor(shape: [], integers: [xZero], dataType: .uint8)),
            ("w", Tensor(shape: wShape, integers: w, dataType: .int8)), ("w_scale", Tensor(shape: [6], values: wScales)),
            ("w_zp", Tensor(shape: [6], integers: Array(repeating: 0, count: 6), dataType: .int8)),
            ("y_scale", Tensor(shape: [], values: [yScale])), ("y_zp", Tensor(shape: [], integers: [yZero], dataType: .int8)),
            ("B", Tensor(shape: [6], integers: bias, dataType: .int32)),
        ], attributes: Self.convAttributes)[0]
        let (sums, shape) = Self.referenceConv(x: x, xZero: xZero, w: w, wZero: [0], xShape: xShape, wShape: wShape)
        #expect(got.count == sums.count)
        let plane = shape[2] * shape[3]
        for i in sums.indices {
            let oc = (i / plane) % 6
            let want = Self.requantize(sums[i] + bias[oc], (xScale * wScales[oc]) / yScale, zero: yZero, low: -128, high: 127)
            #expect(got[i] == want, "element \(i)")
        }
    }

    @Test("ConvInteger: the int32 sums, uint8 weights with a zero point, run-time and constant-folded alike")
    func convInteger() throws {
        var codes = Codes(state: 4)
        let (x, _, _, xShape, wShape) = Self.convCase(&codes)
        let w = codes.uint8(wShape.reduce(1, *))
        let inputs: [(String, Tensor?)] = [
            ("x", Tensor(shape: xShape, integers: x, dataType: .uint8)), ("w", Tensor(shape: wShape, integers: w, dataType: .uint8)),
            ("x_zp", Tensor(shape: [], integers: [77], dataType: .uint8)), ("w_zp", Tensor(shape: [], integers: [140], dataType: .uint8)),
        ]
        let (sums, _) = Self.referenceConv(x: x, xZero: 77, w: w, wZero: [140], xShape: xShape, wShape: wShape)
        for runtime: Set<String> in [["x"], []] {
            let got = try Self.run("ConvInteger", inputs: inputs, attributes: Self.convAttributes, runtime: runtime)[0]
            #expect(got == sums.map { Float($0) }, "runtime inputs \(runtime)")
        }
    }

    @Test("a weight moved off its stored grid runs in the float path: the dequantized input times the float weight, requantized")
    func offGridWeight() throws {
        var codes = Codes(state: 5)
        let (m, k, n) = (2, 40, 3)
        let a = codes.uint8(m * k)
        let weights = (0..<(k * n)).map { Float(sin(Double($0))) * 0.05 }  // not multiples of any scale
        let aScale: Float = 0.01, aZero: Int64 = 128, yScale: Float = 0.02
        let got = try Self.run("QLinearMatMul", inputs: [
            ("x", Tensor(shape: [m, k], integers: a, dataType: .uint8)),
            ("a_scale", Tensor(shape: [], values: [aScale])), ("a_zp", Tensor(shape: [], integers: [aZero], dataType: .uint8)),
            ("b", Tensor(shape: [k, n], values: weights)), ("b_scale", Tensor(shape: [], values: [0.001])),
            ("b_zp", Tensor(shape: [], integers: [0], dataType: .int8)),
            ("y_scale", Tensor(shape: [], values: [yScale])), ("y_zp", Tensor(shape: [], integers: [128], dataType: .uint8)),
        ])[0]
        for i in 0..<m {
            for j in 0..<n {
                var real = 0.0
                for p in 0..<k { real += Double(a[i * k + p] - aZero) * Double(aScale) * Double(weights[p * n + j]) }
                let want = min(max((real / Double(yScale)).rounded(.toNearestOrEven) + 128, 0), 255)
                // float32 products: at most one code from the float64 reference.
                #expect(abs(Double(got[i * n + j]) - want) <= 1, "[\(i), \(j)]")
            }
        }
    }

    @Test("DynamicQuantizeLinear: scale and zero point from the range including 0; all-zero input gets scale 1")
    func dynamicQuantizeLinear() throws {
        let x: [Float] = [-1.5, 0.25, 3.0, 2.9, -0.7, 1.0]
        let got = try Self.run("DynamicQuantizeLinear", inputs: [("x", Tensor(shape: [2, 3], values: x))], outputs: 3)
        let scale = Float(4.5) / 255
        let zero = (0 - Float(-1.5) / scale).rounded(.toNearestOrEven)
        #expect(got[1] == [scale])
        #expect(got[2] == [zero])
        #expect(got[0] == x.map { min(max(($0 / scale).rounded(.toNearestOrEven) + zero, 0), 255) })
        let zeros = try Self.run("DynamicQuantizeLinear", inputs: [("x", Tensor(shape: [4], values: [0, 0, 0, 0]))], outputs: 3)
        #expect(zeros[0] == [0, 0, 0, 0])
        #expect(zeros[1] == [1])
        #expect(zeros[2] == [0])
    }

    @Test("com.microsoft contrib ops are refused naming their domain")
    func contribDomain() throws {
        var graph = Graph(opset: 13)
        let x = graph.addValue(named: "x"), y = graph.addValue(named: "y")
        graph.inputs = [ValueSpec(name: "x", dataType: .float32, dims: [1])]
        graph.inputIDs = [x]
        graph.nodes = [Node(name: "add", opType: "QLinearAdd", domain: "com.microsoft", inputs: [x], outputs: [y])]
        graph.outputIDs = [y]
        graph.outputs = [ValueSpec(name: "y", dataType: .float32, dims: [1])]
        #expect(throws: QScopeError.self) { try Model(path: "m.onnx", raw: graph) }
        do {
            _ = try Model(path: "m.onnx", raw: graph)
        } catch let error as QScopeError {
            #expect(error.message.contains("com.microsoft.QLinearAdd"), "\(error.message)")
        }
    }
}
