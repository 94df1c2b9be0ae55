import Executor
import Foundation
import TestSupport
import Testing
import Analysis

/// Gradients, Hessian-vector products and Hutchinson traces of the sample models against PyTorch
/// (float64 double backward on the ONNX weights with BatchNorm folded as qscope folds it; fixtures
/// made by tools/make_hessian_fixtures.py).
@Suite("Hessian vs PyTorch")
struct HessianFixtureTests {
    static let root = BundledSamples.root

    struct Fixture: Decodable {
        struct HVP: Decodable {
            let vhv: Double
            let norm: Double
            let values: [Double]
        }
        struct Layer: Decodable {
            let name: String
            let count: Int
            let grad_norm: Double
            let grad_index: [Int]
            let grad_values: [Double]
            let hvp: [HVP]
            let trace: Double
            let trace_se: Double
        }
        let samples: Int
        let loss: Double
        let trace_samples: Int
        let layers: [Layer]
    }

    /// The op-coverage models (Tests/Fixtures/models, tools/make_op_coverage_models.py): ops the
    /// sample models do not use (AveragePool, Tanh, Sigmoid, LeakyRelu, Elu, LogSoftmax; depthwise
    /// Conv, unfolded-then-folded BN, Clip, HardSwish, Softplus, ReduceMean).
    static let coverageModels: Set<String> = ["lenet", "mobile"]

    static func load(_ name: String) throws -> (Model, Dataset, Fixture) {
        let folder = coverageModels.contains(name) ? "Tests/Fixtures/models" : "sample-models"
        let model = try Model.load(path: root.appendingPathComponent("\(folder)/\(name).onnx").path)
        let data = try DatasetLoader.load(path: root.appendingPathComponent("sample-models/fashion-mnist-test-2000.npz").path)
            .fitted(toInput: model.graph.inputs[0].name, dims: model.graph.inputs[0].dims)
        let json = try Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/hessian/\(name).json"))
        return (model, data, try JSONDecoder().decode(Fixture.self, from: json))
    }

    /// The fixture's fixed probe p for the layer at fixture position l (see the tools script).
    static func fixedProbe(count: Int, layer: Int, probe: Int) -> [Float] {
        (0..<count).map { i in
            let h = (UInt64(i) &* 2_654_435_761 &+ UInt64(layer * 40503 + probe * 7919)) % (1 << 32)
            return (h >> 13) & 1 == 1 ? 1 : -1
        }
    }

    /// Max |a − b| over the sampled entries, relative to the larger of the reference's max |entry| and
    /// its RMS over the whole tensor.
    static func relativeError(_ a: [Float], _ b: [Double], norm: Double, count: Int) -> Double {
        let scale = max(b.map(abs).max() ?? 0, norm / Double(count).squareRoot(), 1e-30)
        return zip(a, b).map { abs(Double($0) - $1) }.max()! / scale
    }

    @Test(arguments: ["mlp", "cnn", "vit", "lenet", "mobile"])
    func gradientsAndHessianVectorProducts(_ name: String) throws {
        let (model, data, fixture) = try Self.load(name)
        let n = fixture.samples
        let engine = try ReverseMode(model: model, batch: n, sampleShape: data.sampleShape)
        let labels = Array(try #require(data.labels).prefix(n))
        let loss = try data.x.withUnsafeBufferPointer {
            try engine.prepare(input: $0.baseAddress!, target: .labels(labels), scale: 1 / Float(n))
        }
        #expect(abs(loss - fixture.loss) <= 1e-4 * max(1, abs(fixture.loss)), "loss \(loss) vs \(fixture.loss)")
        #expect(fixture.layers.count == model.layers.count)
        let layerIndex = Dictionary(uniqueKeysWithValues: model.layers.enumerated().map { (model.graph.valueNames[$1.weight], $0) })
        var worstGradient = 0.0, worstHVP = 0.0, worstVHV = 0.0
        var directions: [[Float]] = model.layers.map { [Float](repeating: 0, count: 2 * $0.parameterCount) }
        for (position, reference) in fixture.layers.enumerated() {
            let l = try #require(layerIndex[reference.name], "layer \(reference.name)")
            let layer = model.layers[l]
            #expect(layer.parameterCount == reference.count)
            let gradient = try #require(engine.gradient(layer.weight))
            let sampled = reference.grad_index.map { gradient[$0] }
            let error = Self.relativeError(sampled, reference.grad_values, norm: reference.grad_norm, count: reference.count)
            let norm = gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let normError = abs(norm - reference.grad_norm) / max(reference.grad_norm, 1e-30)
            worstGradient = max(worstGradient, error, normError)
            #expect(error < 1e-3 && normError < 1e-3, "\(name) \(reference.name): gradient error \(error), norm error \(normError)")
            for p in 0..<2 {
                let v = Self.fixedProbe(count: reference.count, layer: position, probe: p)
                for i in 0..<reference.count { directions[l][p * reference.count + i] = v[i] }
            }
        }
        var results: [[Float]] = model.layers.map { [Float](repeating: 0, count: 2 * $0.parameterCount) }
        let directionPointers = directions.map { array -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: array.count)
            p.initialize(from: array, count: array.count)
            return p
        }
        let resultPointers = results.map { array -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: array.count)
            p.initialize(repeating: 0, count: array.count)
            return p
        }
        defer { (directionPointers + resultPointers).forEach { $0.deallocate() } }
        engine.hessianVectorProducts(directions: directionPointers.map { UnsafePointer($0) }, probes: 2, results: resultPointers)
        for l in model.layers.indices {
            results[l] = Array(UnsafeBufferPointer(start: resultPointers[l], count: results[l].count))
        }
        // The trace path's quadratic forms v_lᵀ(Hv)_l, formed without (Hv)_l where the rule allows.
        let forms = engine.hessianQuadraticForms(directions: directionPointers.map { UnsafePointer($0) }, probes: 2)
        for reference in fixture.layers {
            let l = layerIndex[reference.name]!
            for p in 0..<2 {
                let hv = Array(results[l][(p * reference.count)..<((p + 1) * reference.count)])
                let v = Array(directions[l][(p * reference.count)..<((p + 1) * reference.count)])
                let ref = reference.hvp[p]
                let error = Self.relativeError(reference.grad_index.map { hv[$0] }, ref.values, norm: ref.norm, count: reference.count)
                let norm = hv.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                let normError = abs(norm - ref.norm) / max(ref.norm, 1e-30)
                let vhv = zip(v, hv).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                // vᵀHv relative to |v|·|Hv| (it can be near zero by cancellation).
                let vhvError = abs(vhv - ref.vhv) / max(abs(ref.vhv), Double(reference.count).squareRoot() * ref.norm * 1e-3, 1e-30)
                let formError = abs(forms[l][p] - ref.vhv)
                    / max(abs(ref.vhv), Double(reference.count).squareRoot() * ref.norm * 1e-3, 1e-30)
                worstHVP = max(worstHVP, error, normError)
                worstVHV = max(worstVHV, vhvError, formError)
                #expect(error < 1e-3 && normError < 1e-3 && vhvError < 1e-3 && formError < 1e-3,
                        "\(name) \(reference.name) probe \(p): Hv error \(error), norm error \(normError), vHv error \(vhvError), quadratic form error \(formError)")
            }
        }
        print("[hessian] \(name): loss \(loss) (ref \(fixture.loss)); max relative error: gradient \(worstGradient), Hv \(worstHVP), vᵀHv \(worstVHV)")
    }

    @Test(arguments: ["mlp", "cnn", "vit", "lenet", "mobile"])
    func tracesAgreeWithPyTorchHutchinson(_ name: String) throws {
        let (model, data, fixture) = try Self.load(name)
        var options = HessianOptions()
        options.samples = fixture.trace_samples
        options.maxProbes = 96
        options.tolerance = 0
        options.seed = 7
        options.chunk = fixture.trace_samples
        var progressCalls = 0
        let report = try HessianTraceEstimator.run(model: model, data: data, options: options, progress: { _ in progressCalls += 1 })
        #expect(report.probes == 96)
        #expect(progressCalls >= 1)
        #expect(report.lossKind == "cross-entropy")
        var worst = 0.0
        for reference in fixture.layers {
            let l = try #require(model.layers.firstIndex { model.graph.valueNames[$0.weight] == reference.name })
            let ours = report.layers[l]
            let combined = (ours.standardError * ours.standardError + reference.trace_se * reference.trace_se).squareRoot()
            let z = abs(ours.trace - reference.trace) / combined
            worst = max(worst, z)
            #expect(z < 3, "\(name) \(reference.name): trace \(ours.trace) ± \(ours.standardError) vs \(reference.trace) ± \(reference.trace_se)")
        }
        print("[hessian] \(name): traces within \(worst) combined standard errors of PyTorch (\(report.probes) probes, \(report.seconds) s)")
    }

    /// Samples split into chunks give the traces of one chunk up to float rounding, both when every
    /// chunk keeps its own prepared passes (sharing the tangent buffers) and when a tight memory
    /// budget makes the chunks share one engine and re-prepare before each product; the chunks run
    /// on two lanes side by side (threads = 2) and on one (threads = 1) alike.
    @Test(arguments: ["mlp", "cnn"])
    func chunkedTracesEqualOneChunk(_ name: String) throws {
        let (model, data, _) = try Self.load(name)
        var options = HessianOptions()
        options.samples = 24
        options.maxProbes = 8
        options.tolerance = 0
        options.seed = 5
        options.chunk = 24
        let whole = try HessianTraceEstimator.run(model: model, data: data, options: options)
        options.chunk = 10
        options.threads = 2
        let prepared = try HessianTraceEstimator.run(model: model, data: data, options: options)
        options.threads = 1
        let oneLane = try HessianTraceEstimator.run(model: model, data: data, options: options)
        options.threads = 2
        options.memoryBudgetFloats = 1
        let reprepared = try HessianTraceEstimator.run(model: model, data: data, options: options)
        for (l, reference) in whole.layers.enumerated() {
            for other in [prepared, oneLane, reprepared] {
                let tolerance = 1e-4 * (abs(reference.trace) + reference.standardError)
                #expect(abs(other.layers[l].trace - reference.trace) <= tolerance,
                        "\(name) \(reference.name): \(other.layers[l].trace) in chunks vs \(reference.trace) in one")
            }
        }
    }

    @Test func deterministicForSeedAndStopsEarly() throws {
        let (model, data, _) = try Self.load("mlp")
        var options = HessianOptions()
        options.samples = 16
        options.maxProbes = 200
        options.tolerance = 0.5
        options.seed = 3
        let a = try HessianTraceEstimator.run(model: model, data: data, options: options)
        let b = try HessianTraceEstimator.run(model: model, data: data, options: options)
        #expect(a.layers.map(\.trace) == b.layers.map(\.trace))
        #expect(a.probes >= 32 && a.probes < 200, "a loose tolerance stops after the minimum of 32 probes, not \(a.probes)")
        #expect(a.layers.allSatisfy { $0.omega[2]! > $0.omega[8]! })
        options.samples = data.count + 1
        #expect(throws: QScopeError.self) { try HessianTraceEstimator.run(model: model, data: data, options: options) }
    }
}
