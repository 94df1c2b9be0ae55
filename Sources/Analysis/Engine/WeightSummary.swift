import Executor
/// What the detail pane shows about one layer's FP32 weights: range, moments and a fine histogram.
public struct WeightSummary: Hashable, Sendable {
    public var minimum: Float
    public var maximum: Float
    /// max |w|.
    public var absMax: Float
    public var mean: Double
    public var standardDeviation: Double
    /// Counts over `binCount` equal bins spanning [minimum, maximum] (the last bin includes the
    /// maximum). All weights land in bin 0 when the range is empty.
    public var histogram: [Int]
    /// The output channel holding max |w| (its quantization grid is the widest).
    public var widestChannel: Int

    public static let binCount = 240

    /// Summarises `values`, laid out with output channels along `outputAxis` of `shape`.
    public init(values: some Collection<Float>, shape: [Int], outputAxis: Int) {
        var lo = Float.infinity, hi = -Float.infinity, sum = 0.0, sumSquares = 0.0
        var absMaxIndex = 0
        var absMax: Float = 0
        for (i, v) in values.enumerated() {
            lo = min(lo, v)
            hi = max(hi, v)
            sum += Double(v)
            sumSquares += Double(v) * Double(v)
            if abs(v) > absMax {
                absMax = abs(v)
                absMaxIndex = i
            }
        }
        if values.isEmpty { lo = 0; hi = 0 }
        let n = Double(max(values.count, 1))
        minimum = lo
        maximum = hi
        self.absMax = absMax
        mean = sum / n
        standardDeviation = max(0, sumSquares / n - (sum / n) * (sum / n)).squareRoot()
        var bins = [Int](repeating: 0, count: WeightSummary.binCount)
        let width = Double(hi) - Double(lo)
        for v in values {
            let t = width > 0 ? (Double(v) - Double(lo)) / width : 0
            bins[min(WeightSummary.binCount - 1, max(0, Int(t * Double(WeightSummary.binCount))))] += 1
        }
        histogram = bins
        widestChannel = ChannelIndex.channel(ofFlatIndex: absMaxIndex, shape: shape, axis: outputAxis)
    }
}

/// Index arithmetic for "output channel" along an arbitrary axis of a row-major tensor.
enum ChannelIndex {
    /// The coordinate along `axis` of the element at row-major `flatIndex` in `shape`.
    static func channel(ofFlatIndex flatIndex: Int, shape: [Int], axis: Int) -> Int {
        guard axis >= 0, axis < shape.count, shape[axis] > 0 else { return 0 }
        let inner = shape[(axis + 1)...].reduce(1, *)
        return (flatIndex / max(inner, 1)) % shape[axis]
    }

    /// The values of channel `channel` along `axis`.
    static func values(_ values: [Float], shape: [Int], axis: Int, channel: Int) -> [Float] {
        guard axis >= 0, axis < shape.count else { return values }
        let inner = shape[(axis + 1)...].reduce(1, *)
        let outer = shape[..<axis].reduce(1, *)
        var out: [Float] = []
        out.reserveCapacity(outer * inner)
        for o in 0..<outer {
            let base = (o * shape[axis] + channel) * inner
            out.append(contentsOf: values[base..<base + inner])
        }
        return out
    }
}
