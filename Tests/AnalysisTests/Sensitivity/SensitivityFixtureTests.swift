import Executor
import Foundation
import Testing
import Analysis

/// Activation statistics, weight outlier statistics and top Hessian eigenvalues of the MLP against
/// the NumPy / ONNX Runtime / PyTorch reference of tools/make_sensitivity_fixtures.py.
@Suite("sensitivity vs NumPy and PyTorch")
struct SensitivityFixtureTests {
    struct Fixture: Decodable {
        struct Activations: Decodable {
            let count: Int
            let min: Double, max: Double, mean: Double, std: Double, skew: Double
            let negative_fraction: Double
            let histogram: [Int]
            let mse_symmetric: [String: Double]
            let mse_asymmetric: [String: Double]
        }
        struct KMeans: Decodable {
            let centers: [Double]
            let boundaries: [Double]
            let counts: [Int]
        }
        struct Outliers: Decodable {
            let count: Int
            let mean: Double, std: Double, q1: Double, q3: Double
            let iqr_outliers: Int
            let sigma_outliers: Int
            let kmeans: KMeans?
        }
        struct Eigen: Decodable {
            let eigenvalue: Double
            let method: String
        }
        struct Layer: Decodable {
            let name: String
            let activations: Activations
            let outliers: Outliers
            let eigen: Eigen
        }
        let calibration_samples: Int
        let eigen_samples: Int
        let layers: [Layer]
    }

    static func load() throws -> (Model, Dataset, Fixture) {
        let root = HessianFixtureTests.root
        let model = try Model.load(path: root.appendingPathComponent("sample-models/mlp.onnx").path)
        let data = try DatasetLoader.load(path: root.appendingPathComponent("sample-models/fashion-mnist-test-2000.npz").path)
            .fitted(toInput: model.graph.inputs[0].name, dims: model.graph.inputs[0].dims)
        let json = try Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/sensitivity/mlp.json"))
        return (model, data, try JSONDecoder().decode(Fixture.self, from: json))
    }

    static func close(_ a: Double, _ b: Double, relative: Double, absolute: Double = 0) -> Bool {
        abs(a - b) <= relative * max(abs(a), abs(b)) + absolute
    }

    /// ORT's and qscope's forward passes agree to ~1e-6 relative, so the moments agree to 1e-4; a few
    /// values may land in the neighbouring histogram bin, and a grid's MSE moves with its scale (set
    /// by the maximum) and with values at half-steps: 1e-3 relative.
    @Test func activationStatisticsMatchNumPy() throws {
        let (model, data, fixture) = try Self.load()
        let statistics = try ActivationStatistics.compute(model: model, calibration: data.prefix(fixture.calibration_samples), batch: 100)
        #expect(statistics.map(\.name) == fixture.layers.map(\.name))
        for (s, layer) in zip(statistics, fixture.layers) {
            let r = layer.activations
            #expect(s.samples == fixture.calibration_samples)
            #expect(s.count == r.count && s.nanCount == 0, "\(s.name)")
            #expect(Self.close(s.minimum, r.min, relative: 1e-5, absolute: 1e-6), "\(s.name) min \(s.minimum) vs \(r.min)")
            #expect(Self.close(s.maximum, r.max, relative: 1e-5, absolute: 1e-6), "\(s.name) max \(s.maximum) vs \(r.max)")
            #expect(Self.close(s.mean, r.mean, relative: 1e-4, absolute: 1e-6), "\(s.name) mean \(s.mean) vs \(r.mean)")
            #expect(Self.close(s.standardDeviation, r.std, relative: 1e-4), "\(s.name) std")
            #expect(Self.close(s.skewness, r.skew, relative: 1e-3, absolute: 1e-4), "\(s.name) skew \(s.skewness) vs \(r.skew)")
            #expect(abs(s.negativeFraction - r.negative_fraction) <= 1e-4, "\(s.name) negatives")
            #expect(s.histogram.count == ActivationStatistics.bins && s.histogram.reduce(0, +) == s.count)
            let moved = zip(s.histogram, r.histogram).reduce(0) { $0 + abs($1.0 - $1.1) }
            #expect(moved <= 4 + s.count / 10_000, "\(s.name): \(moved) histogram counts differ")
            for bits in ActivationStatistics.gridBits {
                let key = String(bits)
                #expect(Self.close(s.symmetricMSE[bits]!, r.mse_symmetric[key]!, relative: 1e-3), "\(s.name) sym\(bits)")
                #expect(Self.close(s.asymmetricMSE[bits]!, r.mse_asymmetric[key]!, relative: 1e-3), "\(s.name) asym\(bits)")
            }
            // Post-ReLU inputs: non-negative, so a symmetric grid wastes half its codes and costs more.
            if r.min >= 0 {
                #expect(s.asymmetry == 0)
                #expect(s.symmetricMSE[4]! > s.asymmetricMSE[4]!)
            }
        }
        #expect(abs(statistics[0].asymmetry - (-statistics[0].minimum / statistics[0].maximum)) <= 1e-15)
    }

    /// Quartiles, IQR and 3σ counts of every weight, and the exact 3-means of the last layer
    /// (exhaustive search in the fixture), from the same float32 weights: to rounding.
    @Test func outlierClustersMatchNumPy() throws {
        let (model, _, fixture) = try Self.load()
        let clusters = try OutlierClusters.compute(model: model)
        for (c, layer) in zip(clusters, fixture.layers) {
            let r = layer.outliers
            #expect(c.count == r.count)
            #expect(Self.close(c.mean, r.mean, relative: 1e-9, absolute: 1e-12), "\(c.name) mean")
            #expect(Self.close(c.standardDeviation, r.std, relative: 1e-9), "\(c.name) std")
            #expect(Self.close(c.firstQuartile, r.q1, relative: 1e-12) && Self.close(c.thirdQuartile, r.q3, relative: 1e-12), "\(c.name) quartiles")
            #expect(c.iqrOutliers == r.iqr_outliers && c.sigmaOutliers == r.sigma_outliers, "\(c.name) outlier counts")
            #expect(c.clusters.map(\.count).reduce(0, +) == c.count)
            #expect(c.clusters[0].center <= c.clusters[1].center && c.clusters[1].center <= c.clusters[2].center)
            if let k = r.kmeans {
                for (a, b) in zip(c.clusters.map(\.center), k.centers) { #expect(Self.close(a, b, relative: 1e-9), "\(c.name) centre") }
                #expect(Self.close(c.lowerBoundary, k.boundaries[0], relative: 1e-9) && Self.close(c.upperBoundary, k.boundaries[1], relative: 1e-9))
                #expect(c.clusters.map(\.count) == k.counts)
            }
        }
        #expect(fixture.layers.contains { $0.outliers.kmeans != nil })
    }

    /// Power iteration run to a tight tolerance equals the reference's top eigenvalue (eigvalsh of the
    /// dense block for the last layer, float64 power iteration for the others) within 1e-3; with
    /// PyHessian's defaults (tolerance 1e-3, 100 steps) within 2 % (the last layer's two largest
    /// eigenvalues are only 17 % apart, so convergence is slow there).
    @Test func topEigenvaluesMatchPyTorch() throws {
        let (model, data, fixture) = try Self.load()
        var tight = EigenvalueOptions()
        tight.samples = fixture.eigen_samples
        tight.tolerance = 1e-9
        tight.maxIterations = 2000
        tight.seed = 3
        let precise = try HessianEigenvalueEstimator.run(model: model, data: data, options: tight)
        var defaults = EigenvalueOptions()
        defaults.samples = fixture.eigen_samples
        var streamed: [Int] = []
        let quick = try HessianEigenvalueEstimator.run(model: model, data: data, options: defaults, progress: { l, _ in streamed.append(l) })
        #expect(streamed.sorted() == Array(model.layers.indices))
        for ((p, q), layer) in zip(zip(precise, quick), fixture.layers) {
            #expect(Self.close(p.eigenvalue, layer.eigen.eigenvalue, relative: 1e-3), "\(p.name): \(p.eigenvalue) vs \(layer.eigen.eigenvalue) (\(layer.eigen.method))")
            #expect(Self.close(q.eigenvalue, layer.eigen.eigenvalue, relative: 2e-2), "\(q.name): \(q.eigenvalue) vs \(layer.eigen.eigenvalue)")
            #expect(q.iterations <= 100 && q.iterations >= 2)
        }
        // Deterministic for a seed.
        #expect(try HessianEigenvalueEstimator.run(model: model, data: data, options: defaults) == quick)
    }
}
