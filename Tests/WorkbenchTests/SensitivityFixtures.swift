import Analysis
import Executor
import Foundation
import Workbench

/// Fixed Hessian numbers for the fixture model (nothing is estimated here): traces spanning three
/// decades, standard errors that are settled for some layers and not for others, and ‖Q_b(W) − W‖²
/// consistent with the fixture's SQNR model (6.02 b − 3 dB) so that Ω from the report and Ω from
/// the evaluation's SQNR agree.
enum SensitivityFixtures {
    static let traces: [Double] = [412.0, 96.3, 88.1, 40.2, 35.7, 12.9, 20.4, 18.8, 0.61]
    /// Relative standard errors: layers 3 and 7 are above 2 % (dim), the rest below.
    static let relativeErrors: [Double] = [0.008, 0.012, 0.015, 0.034, 0.011, 0.019, 0.009, 0.052, 0.018]

    /// The fixture layer's FP32 weights, regenerated exactly as `Fixtures.model` made them.
    static func weights(_ i: Int) -> [Float] {
        Fixtures.weights(count: Fixtures.model.layers[i].parameters, seed: UInt64(i + 1), scale: 0.3 / Float(i + 1).squareRoot())
    }

    /// ‖W‖², summed directly from the weights (independent of `WeightSummary`'s moments).
    static func sumOfSquares(_ i: Int) -> Double { weights(i).reduce(0) { $0 + Double($1) * Double($1) } }

    /// The noise energy at SQNR 6.02 b − 3 dB.
    static func squaredError(_ i: Int, bits: Int) -> Double { sumOfSquares(i) * pow(10, -(6.02 * Double(bits) - 3) / 10) }

    static func report(probes: Int, partial: Bool) -> HessianReport {
        let layers = Fixtures.model.layers.enumerated().map { i, layer in
            let errors = Dictionary(uniqueKeysWithValues: [2, 3, 4, 8].map { ($0, squaredError(i, bits: $0)) })
            let perParameter = traces[i] / Double(layer.parameters)
            return LayerTrace(named: layer.name, parameters: layer.parameters, trace: traces[i],
                              standardError: traces[i] * relativeErrors[i], omega: errors.mapValues { perParameter * $0 },
                              quantizationError: errors)
        }
        return HessianReport(traces: layers, probes: probes, seconds: 3.2, loss: 0.27, lossKind: "cross-entropy", samples: 512,
                             partial: partial)
    }

    /// Fixed clusters inside the fixture layer's weight range: centres at 45 % of each end and the
    /// mean, boundaries halfway between them.
    static func outliers(_ i: Int) -> OutlierClusters {
        let w = Fixtures.model.layers[i].weights
        let lo = Double(w.minimum), hi = Double(w.maximum)
        let centres: [Double] = [0.45 * lo, w.mean, 0.45 * hi]
        let n = Fixtures.model.layers[i].parameters
        let counts: [Int] = [n / 20, n - n / 20 - n / 25, n / 25]
        let bounds: [Double] = [lo, (centres[0] + centres[1]) / 2, (centres[1] + centres[2]) / 2, hi]
        var clusters: [OutlierClusters.Cluster] = []
        for k in 0..<3 {
            clusters.append(OutlierClusters.Cluster(center: centres[k], count: counts[k], minimum: bounds[k], maximum: bounds[k + 1]))
        }
        return OutlierClusters(name: Fixtures.model.layers[i].name, count: n, clusters: clusters,
                               lowerBoundary: (centres[0] + centres[1]) / 2, upperBoundary: (centres[1] + centres[2]) / 2,
                               mean: w.mean, standardDeviation: w.standardDeviation, firstQuartile: -0.67 * w.standardDeviation,
                               thirdQuartile: 0.67 * w.standardDeviation, iqrOutliers: n / 140, sigmaOutliers: n / 370)
    }

    /// Fixed input statistics: layer 0 reads the normalised image (both signs, two modes), the
    /// others read ReLU outputs (non-negative, decaying counts), where the symmetric grid wastes half.
    static func activations(_ i: Int) -> ActivationStatistics {
        let name = Fixtures.model.layers[i].name
        if i == 0 {
            let histogram = (0..<64).map { k in 3000 * (k < 4 ? 40 - 8 * k : 0) + 400 * (64 - k) }
            return ActivationStatistics(name: name, samples: 512, count: 401_408, nanCount: 0, minimum: -0.81, maximum: 2.02,
                                        mean: 0.0, standardDeviation: 1.0, skewness: 0.41, negativeFraction: 0.52,
                                        histogram: histogram, symmetricMSE: [8: 2.1e-5, 4: 6.8e-3],
                                        asymmetricMSE: [8: 1.0e-5, 4: 3.3e-3])
        }
        let histogram = (0..<64).map { k in Int(90_000 * exp(-Double(k) / 7)) }
        return ActivationStatistics(name: name, samples: 512, count: 524_288, nanCount: 0, minimum: 0, maximum: 3.1 + 0.2 * Double(i),
                                    mean: 0.42, standardDeviation: 0.51, skewness: 2.2, negativeFraction: 0,
                                    histogram: histogram, symmetricMSE: [8: 4.4e-5, 4: 1.5e-2], asymmetricMSE: [8: 1.1e-5, 4: 3.8e-3])
    }

    /// `state` with the analysis running: 48 of at most 200 probes in.
    static func analysing(_ state: AppState) -> AppState {
        var state = state
        _ = reduce(&state, .sensitivity(.started(samples: 512, maxProbes: 200, tolerance: 0.02)))
        for i in Fixtures.model.layers.indices {
            _ = reduce(&state, .sensitivity(.outliers(layer: i, outliers(i))))
            _ = reduce(&state, .sensitivity(.activations(layer: i, activations(i))))
        }
        _ = reduce(&state, .sensitivity(.hessian(report(probes: 48, partial: true))))
        return state
    }
}
