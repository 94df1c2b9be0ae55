import Executor
import Foundation
import TestSupport
import Testing
import Analysis
import Kernels

/// Sensitivity-weighted (Fisher) k-means for `lut` (SqueezeLLM): the weighted Lloyd run
/// and the Fisher diagonal against independent references (tools/make_quant_fixtures.py `fisher`),
/// and the weighting's effect.
@Suite("Fisher-weighted lut")
struct FisherLookupTableTests {
    static func loadCNN(samples: Int) throws -> (Model, Dataset) { try BundledSamples.load("cnn", samples: samples) }

    @Test("weighted Lloyd with real-valued Fisher-like weights equals NumPy's (centroids within 1e-12 relative, same assignments and iterations)")
    func weightedLloydMatchesNumPy() throws {
        let cases = try QuantFixtures.load("fisher_kmeans.json")["cases"] as! [[String: Any]]
        #expect(cases.count == 3)
        for c in cases {
            let values = QuantFixtures.floats(c["values"])
            let weights = QuantFixtures.floats(c["weights"])
            let result = values.withUnsafeBufferPointer { v in
                weights.withUnsafeBufferPointer { KMeans1D(clusters: c["k"] as! Int).fit(v, weights: $0) }
            }
            let want = QuantFixtures.doubles(c["centroids"])
            for (a, b) in zip(result.centroids, want) { #expect(abs(a - b) <= 1e-12 * max(abs(b), 1e-3)) }
            #expect(result.assignments.map(Int.init) == QuantFixtures.ints(c["assignments"]))
            #expect(result.iterations == c["iterations"] as! Int)
        }
    }

    /// Fixture values are float64 PyTorch; qscope's gradients are float32 (squares summed in Double),
    /// so each entry must agree to 1e-3 of the layer's largest value (float32 backward rounding).
    @Test("Fisher diagonal of two CNN layers equals PyTorch's Σ per-sample g² (labels, and FP32 top-1 without labels)",
          arguments: ["labels", "top1"])
    func fisherMatchesPyTorch(_ variant: String) throws {
        let fixture = try QuantFixtures.load("fisher.json")
        let samples = fixture["samples"] as! Int
        var (model, data) = try Self.loadCNN(samples: samples)
        if variant == "top1" {
            data = try Dataset(source: data.source, sampleShape: data.sampleShape, x: data.x, labels: nil)
        }
        let fisher = try FisherDiagonal.compute(model: model, data: data, samples: samples, threads: 2)
        #expect(fisher.samples == samples)
        #expect(fisher.lossKind == (variant == "labels" ? "cross-entropy" : "cross-entropy-fp32-top1"))
        let reference = (fixture["variants"] as! [String: Any])[variant] as! [String: Any]
        for name in fixture["layers"] as! [String] {
            let layer = try #require(model.layers.first { model.graph.valueNames[$0.weight] == name }, "layer \(name)")
            let got = try #require(fisher.values(forLayer: layer.name))
            let want = QuantFixtures.doubles(reference[name])
            #expect(got.count == want.count)
            let scale = want.max()!
            let worst = zip(got, want).map { abs(Double($0) - $1) }.max()!
            #expect(worst <= 1e-3 * scale, "\(name): max |Δ| \(worst) vs max F \(scale)")
            let (sumGot, sumWant) = (got.reduce(0.0) { $0 + Double($1) }, want.reduce(0, +))
            #expect(abs(sumGot - sumWant) <= 1e-4 * sumWant)
        }
    }

    @Test("the same Fisher diagonal on 1 thread and on 2 (fixed partitions: bit-identical)")
    func fisherIsDeterministic() throws {
        let (model, data) = try Self.loadCNN(samples: 10)
        let one = try FisherDiagonal.compute(model: model, data: data, samples: 10, threads: 1)
        let two = try FisherDiagonal.compute(model: model, data: data, samples: 10, threads: 2)
        for layer in model.layers {
            #expect(one.values(forLayer: layer.name)!.map(\.bitPattern) == two.values(forLayer: layer.name)!.map(\.bitPattern))
        }
    }

    @Test("weighting pulls centroids onto high-Fisher weights: their error shrinks, the Fisher-weighted error falls")
    func weightingMovesCentroids() throws {
        var generator = SeededGenerator(seed: 7)
        let columns = 64
        let values = (0..<columns).map { _ in Float(generator.normal() * 0.05) }
        // Four weights spread over the range get 1000× the sensitivity of the rest.
        let sorted = values.indices.sorted { values[$0] < values[$1] }
        let important = Set([sorted[5], sorted[22], sorted[41], sorted[60]])
        let fisher = values.indices.map { important.contains($0) ? Float(1000) : 1 }
        let quantizer = LookupTableQuantizer(bits: 2)
        let plain = quantizer.fakeQuantize(values, rows: 1, columns: columns)
        let weighted = quantizer.fakeQuantize(values, rows: 1, columns: columns, sensitivity: fisher)
        func weightedError(_ q: [Float]) -> Double {
            values.indices.reduce(0.0) { $0 + Double(fisher[$1]) * pow(Double(values[$1] - q[$1]), 2) }
        }
        #expect(weightedError(weighted) < 0.5 * weightedError(plain))
        let importantPlain = important.map { abs(values[$0] - plain[$0]) }.reduce(0, +)
        let importantWeighted = important.map { abs(values[$0] - weighted[$0]) }.reduce(0, +)
        #expect(importantWeighted < 0.25 * importantPlain, "\(importantWeighted) vs \(importantPlain)")
        // Zero sensitivity everywhere is plain k-means.
        let zero = quantizer.fakeQuantize(values, rows: 1, columns: columns, sensitivity: [Float](repeating: 0, count: columns))
        #expect(zero == plain)
    }

    @Test("a lut spec on a model uses the Fisher diagonal and says so; other specs ignore it")
    func modelLevelWeighting() throws {
        let (model, data) = try Self.loadCNN(samples: 24)
        let fisher = try FisherDiagonal.compute(model: model, data: data, samples: 24)
        let lut = try QuantizerSpec(parsing: "lut2")
        let plain = try QuantizedModelWeights(model: model, spec: lut)
        let weighted = try QuantizedModelWeights(model: model, spec: lut, fisher: fisher)
        #expect(!plain.fisherWeighted && weighted.fisherWeighted)
        #expect(zip(plain.results, weighted.results).contains { $0.values != $1.values })
        let split = try QuantizedModelWeights(model: model, spec: try QuantizerSpec(parsing: "split3:lut2"), fisher: fisher)
        #expect(split.fisherWeighted)
        let int = try QuantizedModelWeights(model: model, spec: .int(4), fisher: fisher)
        #expect(!int.fisherWeighted)
        #expect(int.results.map(\.values) == (try QuantizedModelWeights(model: model, spec: .int(4))).results.map(\.values))
    }

    @Test("the plan evaluator weights lut layers by the Fisher diagonal of its data, and not when disabled")
    func planEvaluatorWeighting() async throws {
        let (model, data) = try Self.loadCNN(samples: 24)
        let lut = LayerChoice(weights: try QuantizerSpec(parsing: "lut3"))
        let withFisher = try PlanEvaluator(model: model, dataset: data, batchSize: 24, fisherSamples: 24)
        let without = try PlanEvaluator(model: model, dataset: data, batchSize: 24, fisherSamples: nil)
        let a = try await withFisher.layerQuantization(layer: 1, choice: lut)
        let b = try await without.layerQuantization(layer: 1, choice: lut)
        #expect(a.fisherWeighted && !b.fisherWeighted)
        #expect(a.sqnrDB != b.sqnrDB)
        let int = try await withFisher.layerQuantization(layer: 1, choice: LayerChoice(weights: .int(3)))
        #expect(!int.fisherWeighted)
        let fisher = try #require(try await withFisher.fisherDiagonal())
        let direct = try FisherDiagonal.compute(model: model, data: data, samples: 24)
        #expect(fisher.values(forLayer: model.layers[1].name) == direct.values(forLayer: model.layers[1].name))
    }
}

