import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// Already-quantized models from onnxruntime.quantization (fixtures by `tools/make_quantized_fixtures.py`:
/// a small CNN quantized in QOperator form, in QDQ form, each with int8 per-channel and uint8
/// per-tensor weights, and dynamically; ONNX Runtime's outputs with graph optimizations off).
@Suite("already-quantized models")
struct QuantizedModelFixtureTests {
    static func path(_ file: String) -> String {
        BundledSamples.root.appendingPathComponent("Tests/Fixtures/exporters/quantized/\(file)").path
    }

    static let inputs = try! NPY.read(path: path("inputs.npy")).floats()

    /// The first output of `model` on the 8 fixture samples.
    static func outputs(_ model: Model) throws -> [Float] {
        let compiled = try model.compile(batch: 8, sampleShape: [1, 12, 12])
        inputs.withUnsafeBufferPointer { compiled.run([$0.baseAddress!]) }
        return Array(compiled.output(0))
    }

    /// The scale of the last DequantizeLinear (the one the output is computed from): one code of the
    /// last quantized activation, in output units.
    static func lastOutputStep(_ file: String) throws -> Float {
        let raw = try ONNXLoader.load(path: path(file))
        let dequantize = try #require(raw.nodes.last { $0.opType == "DequantizeLinear" })
        return try #require(dequantize.inputs[1].flatMap { raw.constants[$0]?.scalar })
    }

    /// Tolerances against ONNX Runtime. QOperator and dynamic models compute integer sums and the same
    /// float32 requantization as ORT: exact. The float model and QDQ models run float convolutions
    /// whose summation order differs from ORT's (relative differences ~1e-7), and in a QDQ model a
    /// value that close to a rounding boundary of the next QuantizeLinear can land one code away: one
    /// step of the last activation's scale.
    @Test("outputs match ONNX Runtime", arguments: [
        "cnn_float", "cnn_qoperator", "cnn_qoperator_u8", "cnn_qdq", "cnn_qdq_u8", "cnn_dynamic", "pool_qoperator", "pool_qdq",
    ])
    func matchesOnnxRuntime(_ name: String) throws {
        let model = try Model.load(path: Self.path(name + ".onnx"))
        let expected = try NPY.read(path: Self.path(name + ".output.npy")).floats()
        let got = try Self.outputs(model)
        #expect(got.count == expected.count)
        let worst = zip(got, expected).reduce(0) { max($0, abs($1.0 - $1.1)) }
        let scale = expected.reduce(0) { max($0, abs($1)) }
        print("\(name): max |qscope - ORT| = \(worst) (max |ORT| \(scale))")
        switch name {
        case "cnn_qoperator", "cnn_qoperator_u8", "cnn_dynamic", "pool_qoperator":
            #expect(worst == 0, "\(name): \(worst)")
        case "cnn_float":
            #expect(worst <= 1e-5 * scale, "\(name): \(worst)")
        default:
            let step = try Self.lastOutputStep(name + ".onnx")
            #expect(worst <= step * 1.0001, "\(name): \(worst) > one step \(step)")
        }
    }

    /// The stored (scale, zero point, codes) of layer weights, read from the raw file independently of
    /// `StoredQuantization`: the weight initializer, its scale and zero point by position.
    static func storedCodes(_ file: String) throws -> [(codes: Tensor, scale: Tensor, zero: Tensor?)] {
        let raw = try ONNXLoader.load(path: path(file))
        let producers = raw.producers()
        var found: [(Tensor, Tensor, Tensor?)] = []
        for node in raw.nodes {
            let positions: (Int, Int, Int)?
            switch node.opType {
            case "QLinearConv", "QLinearMatMul": positions = (3, 4, 5)
            case "ConvInteger", "MatMulInteger": positions = (1, -1, 3)
            case "Conv", "MatMul":
                if let weight = node.inputs[1], let p = producers[weight], raw.nodes[p].opType == "DequantizeLinear" {
                    let dq = raw.nodes[p]
                    found.append((raw.constants[dq.inputs[0]!]!, raw.constants[dq.inputs[1]!]!,
                                  dq.inputs.count > 2 ? dq.inputs[2].flatMap { raw.constants[$0] } : nil))
                }
                positions = nil
            default: positions = nil
            }
            guard let (w, s, z) = positions else { continue }
            found.append((raw.constants[node.inputs[w]!]!, s >= 0 ? raw.constants[node.inputs[s]!]! : Tensor(shape: [], values: [1]),
                          node.inputs.count > z ? node.inputs[z].flatMap { raw.constants[$0] } : nil))
        }
        return found
    }

    @Test("stored layers keep their float weight (the dequantized codes) and how they are stored", arguments: [
        ("cnn_qoperator", "int8", true), ("cnn_qoperator_u8", "uint8", false), ("cnn_qdq", "int8", true),
        ("cnn_qdq_u8", "uint8", false), ("cnn_dynamic", "int8", false),
    ])
    func storedLayers(_ name: String, _ type: String, _ perChannel: Bool) throws {
        let model = try Model.load(path: Self.path(name + ".onnx"))
        let stored = try Self.storedCodes(name + ".onnx")
        #expect(model.layers.count == 4, "\(model.layers.map(\.name))")
        #expect(stored.count == model.layers.count)
        for (layer, (codes, scale, zero)) in zip(model.layers, stored) {
            let info = try #require(layer.stored, "\(name) \(layer.name)")
            #expect("\(info.type)" == type)
            #expect(info.isPerChannel == perChannel, "\(layer.name): \(info.summary)")
            #expect(info.scales == scale.values)
            let weight = try #require(model.graph.constants[layer.weight])
            #expect(weight.dataType == .float32 && weight.shape == codes.shape)
            let inner = perChannel ? codes.shape[(layer.outputAxis + 1)...].reduce(1, *) : codes.count
            let channels = perChannel ? codes.shape[layer.outputAxis] : 1
            // (q − z)·s rounded once to float32, in Double: the same correctly rounded product.
            let expected = codes.integerValues.indices.map { i -> Float in
                let c = (i / inner) % channels
                let z = zero.map { $0.integerValues[$0.count == 1 ? 0 : c] } ?? 0
                return Float(Double(codes.integerValues[i] - z) * Double(scale.values[scale.count == 1 ? 0 : c]))
            }
            #expect(weight.values == expected, "\(name) \(layer.name)")
        }
    }

    @Test("the starting plan keeps the stored format: \"int8 (stored)\", and evaluates to the model as stored")
    func startingPlan() throws {
        let model = try Model.load(path: Self.path("cnn_qoperator.onnx"))
        let plan = Plan(startingFrom: model)
        #expect(plan.choices.map { WeightBitsLadder.label($0.weights) } == Array(repeating: "int8 (stored)", count: 4))
        #expect(plan.choices.allSatisfy { $0.weights == QuantizerSpec(.stored(bits: 8, signed: true, perTensor: false)) })
        #expect(try QuantizerSpec(parsing: "stored:int8") == plan.choices[0].weights)
        #expect(Plan(startingFrom: try Model.load(path: Self.path("cnn_float.onnx"))).isAllFloat)
        let u8 = Plan(startingFrom: try Model.load(path: Self.path("cnn_qdq_u8.onnx")))
        #expect(u8.choices.map { $0.weights?.description } == Array(repeating: "stored:uint8:tensor", count: 4))
        #expect(WeightBitsLadder.label(u8.choices[0].weights) == "uint8 (stored)")

        // Keeping the stored codes changes nothing: same weights, same outputs, 8 bits per weight.
        let stored = try QuantizedModelWeights(model: model, spec: plan.choices[0].weights!)
        for (layer, result) in zip(stored.layers, stored.results) {
            #expect(result.values == model.graph.constants[layer.weight]!.values)
            #expect(result.payloadBits == 8 * layer.parameterCount)
        }
        let compiled = try model.compile(batch: 8, sampleShape: [1, 12, 12])
        stored.install(in: compiled)
        Self.inputs.withUnsafeBufferPointer { compiled.run([$0.baseAddress!]) }
        #expect(Array(compiled.output(0)) == (try NPY.read(path: Self.path("cnn_qoperator.output.npy")).floats()))
        stored.remove(from: compiled)

        // A stored spec cannot apply where nothing is stored, or in another format.
        let float = try Model.load(path: Self.path("cnn_float.onnx"))
        #expect(throws: QScopeError.self) { try QuantizedModelWeights(model: float, spec: plan.choices[0].weights!) }
        #expect(throws: QScopeError.self) { try QuantizedModelWeights(model: model, spec: try QuantizerSpec(parsing: "stored:uint8")) }
    }

    @Test("requantizing a QLinear model's weights runs them in the float path, as the QDQ model does")
    func requantizedQOperatorMatchesQDQ() throws {
        let qoperator = try Model.load(path: Self.path("cnn_qoperator.onnx"))
        let qdq = try Model.load(path: Self.path("cnn_qdq.onnx"))
        let stored = try Self.outputs(qoperator)
        var results: [[Float]] = []
        for model in [qoperator, qdq] {
            let weights = try QuantizedModelWeights(model: model, spec: .int(4))
            let compiled = try model.compile(batch: 8, sampleShape: [1, 12, 12])
            weights.install(in: compiled)
            Self.inputs.withUnsafeBufferPointer { compiled.run([$0.baseAddress!]) }
            results.append(Array(compiled.output(0)))
            weights.remove(from: compiled)
        }
        // Same int4 weights (the same stored weights requantized), same activation quantization: the
        // two forms agree up to codes that float summation order puts across a rounding boundary.
        let scale = results[1].reduce(0) { max($0, abs($1)) }
        let worst = zip(results[0], results[1]).reduce(0) { max($0, abs($1.0 - $1.1)) }
        print("int4 QOperator vs QDQ: max diff \(worst) of \(scale)")
        #expect(worst <= 0.02 * scale)
        let change = zip(results[0], stored).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(change > 10 * worst, "int4 must change the output (\(change)) more than the two forms differ (\(worst))")
    }

    @Test("contrib QOperator ops (com.microsoft.QLinearAdd) are refused naming their domain")
    func contribOpRefused() throws {
        do {
            _ = try Model.load(path: Self.path("contrib_qlinearadd.onnx"))
            Issue.record("the model must not load")
        } catch let error as QScopeError {
            #expect(error.message.contains("unsupported op com.microsoft.QLinearAdd"), "\(error.message)")
        }
    }

    /// The loss gradient of every layer weight, on the fixture inputs against the float model's outputs.
    static func gradients(_ model: Model) throws -> [[Float]] {
        let engine = try ReverseMode(model: model, batch: 8, sampleShapes: [[1, 12, 12]], threads: 1)
        let target = try NPY.read(path: path("cnn_float.output.npy")).floats()
        try inputs.withUnsafeBufferPointer { _ = try engine.prepare(inputs: [$0.baseAddress!], target: .outputs(target), scale: 1.0 / 8) }
        return try model.layers.map { try #require(engine.gradient($0.weight)).map { $0 } }
    }

    @Test("reverse mode differentiates stored layers straight through: QOperator and QDQ give the float network's gradients")
    func straightThroughGradients() throws {
        let qoperator = try Self.gradients(try Model.load(path: Self.path("cnn_qoperator.onnx")))
        let qdqModel = try Model.load(path: Self.path("cnn_qdq.onnx"))
        let qdq = try Self.gradients(qdqModel)
        // The float model carrying the QDQ model's (dequantized) weights and biases: the network the
        // straight-through estimator differentiates.
        var float = try Model.load(path: Self.path("cnn_float.onnx"))
        for (layer, source) in zip(float.layers, qdqModel.layers) {
            float.graph.constants[layer.weight] = qdqModel.graph.constants[source.weight]
            if let bias = layer.bias, let sourceBias = source.bias { float.graph.constants[bias] = qdqModel.graph.constants[sourceBias] }
        }
        let reference = try Self.gradients(float)
        for (index, want) in reference.enumerated() {
            let norm = want.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(norm > 0, "layer \(index) has a zero reference gradient")
            for (name, got) in [("QOperator", qoperator[index]), ("QDQ", qdq[index])] {
                let error = zip(got, want).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
                #expect(error <= 1e-3 * norm, "\(name) layer \(index): |g - g_ref| = \(error), |g_ref| = \(norm)")
            }
        }
        let dynamic = try Self.gradients(try Model.load(path: Self.path("cnn_dynamic.onnx")))
        #expect(dynamic.allSatisfy { g in g.contains { $0 != 0 } }, "every dynamic layer gets a gradient")
    }

    @Test("straight through codes that a MaxPool and a Reshape move between QLinear ops: the QOperator model's gradients are the QDQ model's")
    func straightThroughMovedCodes() throws {
        let qoperator = try Self.gradients(try Model.load(path: Self.path("pool_qoperator.onnx")))
        let qdq = try Self.gradients(try Model.load(path: Self.path("pool_qdq.onnx")))
        #expect(qoperator.count == 3 && qdq.count == 3)
        for (index, (got, want)) in zip(qoperator, qdq).enumerated() {
            let norm = want.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let error = zip(got, want).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
            #expect(norm > 0, "layer \(index): the QDQ gradient is zero")
            #expect(error <= 1e-3 * norm, "layer \(index): |g_QOperator - g_QDQ| = \(error), |g_QDQ| = \(norm)")
        }
    }
}
