import Executor
import Kernels

/// Statistics of one quantizable layer's input activation over the calibration samples
/// (a part of the sensitivity analysis): what an activation quantizer at that input has to cover, and what
/// a symmetric grid costs against an asymmetric one.
///
/// Every element of the layer's input tensor over all calibration samples counts once (a
/// `[N, C, H, W]` input contributes N·C·H·W values). NaN values are skipped and counted in
/// `nanCount`; they enter no other field.
///
/// Histogram: `ActivationStatistics.bins` (64) equal-width bins over `[minimum, maximum]`; bin `i`
/// covers `[minimum + i·w, minimum + (i+1)·w)` with `w = (maximum − minimum)/64`, the last bin also
/// holds `maximum`. A value's bin is `min(63, floor((x − minimum)·64 / (maximum − minimum)))`
/// computed in Double. When all values are equal (`maximum == minimum`) every value is in bin 0.
public struct ActivationStatistics: Sendable, Equatable {
    /// Number of histogram bins.
    public static let bins = 64

    /// The layer's name (`QuantizableLayer.name`).
    public var name: String
    /// Calibration samples the statistics were taken on.
    public var samples: Int
    /// Values counted (elements of the input over all samples, NaN excluded).
    public var count: Int
    /// NaN values seen (not counted anywhere else).
    public var nanCount: Int
    public var minimum: Double
    public var maximum: Double
    /// Arithmetic mean.
    public var mean: Double
    /// Population standard deviation (divides by `count`, NumPy's `std` with ddof = 0).
    public var standardDeviation: Double
    /// Population skewness m3 / m2^1.5 (SciPy's `skew` with `bias=True`); 0 when the values are constant.
    public var skewness: Double
    /// Fraction of the values below 0.
    public var negativeFraction: Double
    /// `bins` counts over `[minimum, maximum]` (see the type's doc for the edge rule).
    public var histogram: [Int]
    /// Mean squared error of per-tensor grids fitted to `[minimum, maximum]`, keyed by bit-width
    /// (8 and 4): `symmetric` is `IntegerQuantizer.Mapping.symmetric` (scale max|x|/(2^(B−1)−1),
    /// zero point 0), `asymmetric` is `.affine` (min/max with an integer zero point, range widened
    /// to contain 0). Float32 round trip as in `IntegerQuantizer`, squared errors summed in Double.
    public var symmetricMSE: [Int: Double]
    public var asymmetricMSE: [Int: Double]

    /// The bit-widths the grid errors are computed for.
    public static let gridBits = [8, 4]

    /// `|min(minimum, 0)| / max(maximum, 0)`: how far the range reaches below zero relative to
    /// above it, i.e. the `|min|/max` of the range an integer grid must cover (it always contains 0).
    /// 1 = symmetric, 0 = non-negative (e.g. after ReLU, where a symmetric grid wastes its negative
    /// half), +∞ = non-positive with a negative minimum; 0 for an all-zero input.
    public var asymmetry: Double {
        let negative = max(-minimum, 0), positive = max(maximum, 0)
        if positive > 0 { return negative / positive }
        return negative > 0 ? .infinity : 0
    }

    /// Lower edge of histogram bin `index` (`index == bins` gives the upper edge of the last bin).
    public func binEdge(_ index: Int) -> Double {
        minimum + (maximum - minimum) * Double(index) / Double(Self.bins)
    }

    public init(name: String, samples: Int, count: Int, nanCount: Int, minimum: Double, maximum: Double, mean: Double,
                standardDeviation: Double, skewness: Double, negativeFraction: Double, histogram: [Int],
                symmetricMSE: [Int: Double], asymmetricMSE: [Int: Double]) {
        self.name = name
        self.samples = samples
        self.count = count
        self.nanCount = nanCount
        self.minimum = minimum
        self.maximum = maximum
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.skewness = skewness
        self.negativeFraction = negativeFraction
        self.histogram = histogram
        self.symmetricMSE = symmetricMSE
        self.asymmetricMSE = asymmetricMSE
    }
}

extension ActivationStatistics {
    /// Accumulates the statistics of one activation tensor over batches, in two passes over the same
    /// values: the first finds the range, the count and the mean; the second, which needs the range
    /// (histogram edges, grid scales) and the mean (central moments, for an accurate skewness), adds
    /// the histogram, the central moments and the grid errors.
    struct Accumulator {
        var count = 0
        var nanCount = 0
        var negatives = 0
        var low = Double.infinity
        var high = -Double.infinity
        var sum = 0.0
        // Second pass.
        var histogram = [Int](repeating: 0, count: ActivationStatistics.bins)
        var m2 = 0.0
        var m3 = 0.0
        var symmetricErrors = [Double](repeating: 0, count: ActivationStatistics.gridBits.count)
        var asymmetricErrors = [Double](repeating: 0, count: ActivationStatistics.gridBits.count)
        var scratch: [Float] = []

        var mean: Double { count > 0 ? sum / Double(count) : 0 }

        mutating func firstPass(_ values: UnsafeBufferPointer<Float>) {
            var lo = Float.infinity, hi = -Float.infinity
            var blockStart = 0
            while blockStart < values.count {
                let end = min(blockStart + 4096, values.count)
                var s: Double = 0
                for i in blockStart..<end {
                    let x = values[i]
                    if x.isNaN {
                        nanCount += 1
                        continue
                    }
                    lo = min(lo, x)
                    hi = max(hi, x)
                    s += Double(x)
                    if x < 0 { negatives += 1 }
                }
                sum += s
                blockStart = end
            }
            count += values.count
            low = min(low, Double(lo))
            high = max(high, Double(hi))
        }

        /// Call after every batch has been through `firstPass` (needs the final range and mean).
        mutating func secondPass(_ values: UnsafeBufferPointer<Float>) {
            let mu = mean
            let span = high - low
            let binScale = span > 0 ? Double(ActivationStatistics.bins) / span : 0
            let last = ActivationStatistics.bins - 1
            for x in values where !x.isNaN {
                let d = Double(x) - mu
                let d2 = d * d
                m2 += d2
                m3 += d2 * d
                let bin = min(last, max(0, Int((Double(x) - low) * binScale)))
                histogram[bin] += 1
            }
            if scratch.count < values.count { scratch = [Float](repeating: 0, count: values.count) }
            let clean = values.contains { $0.isNaN } ? values.filter { !$0.isNaN } : nil
            for (k, bits) in ActivationStatistics.gridBits.enumerated() {
                symmetricErrors[k] += gridError(IntegerQuantizer(bits: bits, mapping: .symmetric), clean, values)
                asymmetricErrors[k] += gridError(IntegerQuantizer(bits: bits, mapping: .affine), clean, values)
            }
        }

        private mutating func gridError(_ quantizer: IntegerQuantizer, _ clean: [Float]?, _ values: UnsafeBufferPointer<Float>) -> Double {
            let (scale, zero) = quantizer.parameters(forRange: Float(low), Float(high))
            func error(_ x: UnsafeBufferPointer<Float>) -> Double {
                scratch.withUnsafeMutableBufferPointer { out in
                    quantizer.fakeQuantize(x.baseAddress!, count: x.count, scale: scale, zero: zero, into: out.baseAddress!)
                    var total = 0.0
                    var blockStart = 0
                    while blockStart < x.count {
                        let end = min(blockStart + 4096, x.count)
                        var s: Float = 0
                        for i in blockStart..<end {
                            let e = x[i] - out[i]
                            s += e * e
                        }
                        total += Double(s)
                        blockStart = end
                    }
                    return total
                }
            }
            if let clean { return clean.withUnsafeBufferPointer { error($0) } }
            return values.isEmpty ? 0 : error(values)
        }

        func finish(name: String, samples: Int) -> ActivationStatistics {
            let nans = nanCount
            let n = count - nans
            let variance = n > 0 ? m2 / Double(n) : 0
            let third = n > 0 ? m3 / Double(n) : 0
            let skew = variance > 0 ? third / (variance * variance.squareRoot()) : 0
            let denominator = Double(max(n, 1))
            var symmetric: [Int: Double] = [:], asymmetric: [Int: Double] = [:]
            for (k, bits) in ActivationStatistics.gridBits.enumerated() {
                symmetric[bits] = symmetricErrors[k] / denominator
                asymmetric[bits] = asymmetricErrors[k] / denominator
            }
            return ActivationStatistics(
                name: name, samples: samples, count: n, nanCount: nans, minimum: n > 0 ? low : 0, maximum: n > 0 ? high : 0,
                mean: n > 0 ? sum / Double(n) : 0, standardDeviation: variance.squareRoot(), skewness: skew,
                negativeFraction: Double(negatives) / denominator, histogram: histogram,
                symmetricMSE: symmetric, asymmetricMSE: asymmetric)
        }
    }

    /// The statistics at every quantizable layer's input (model order) over `calibration`: two
    /// forward passes in batches of `batch` samples (`CalibrationPass`). Layers that read the same
    /// value (e.g. a transformer's query, key and value projections) share one accumulation.
    /// `isCancelled` is checked between batches (throws `CancellationError`).
    public static func compute(model: Model, calibration: Dataset, batch: Int = 128,
                               isCancelled: () -> Bool = { false }) throws -> [ActivationStatistics] {
        guard calibration.count > 0 else { throw QScopeError(file: calibration.source, "has no samples to calibrate on") }
        var inputs: [ValueID] = []
        let layerInputs = try model.layers.map { layer -> ValueID in
            guard let input = model.graph.nodes[layer.nodeIndex].inputs[0] else {
                throw QScopeError(file: model.path, "layer \(layer.name) has no input activation")
            }
            if !inputs.contains(input) { inputs.append(input) }
            return input
        }
        var accumulators = Dictionary(uniqueKeysWithValues: inputs.map { ($0, Accumulator()) })
        for pass in 0..<2 {
            try CalibrationPass.run(model: model, calibration: calibration, batch: max(1, batch)) { graph, _ in
                if isCancelled() { throw CancellationError() }
                for id in inputs {
                    guard let values = graph.value(id) else {
                        throw QScopeError(file: model.path, "layer input \(model.graph.valueNames[id]) is not kept")
                    }
                    if pass == 0 { accumulators[id]!.firstPass(values) } else { accumulators[id]!.secondPass(values) }
                }
            }
        }
        return zip(model.layers, layerInputs).map { layer, input in
            accumulators[input]!.finish(name: layer.name, samples: calibration.count)
        }
    }
}
