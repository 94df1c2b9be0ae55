import Executor
import Kernels

/// Static activation fake-quant at the input of every quantizable layer.
///
/// Calibration runs the FP32 model on the calibration samples and records, per distinct layer input
/// tensor, its running min and max (and, when the spec clips, a strided subsample of at most
/// `maxKeptValues` values on which the MSE or percentile rule is evaluated). The quantized model is the
/// same graph with a `QScopeFakeQuant` node in front of each such input (one per tensor, shared by the
/// layers that read it, e.g. q/k/v), carrying the calibrated scale and zero point.
public enum ActivationQuantization {
    /// Values kept per tensor for clipped calibration.
    public static let maxKeptValues = 1 << 20

    /// A calibrated tensor: the layer input it quantizes and its parameters.
    public struct Calibrated: Sendable {
        public var input: ValueID
        public var low: Float
        public var high: Float
        public var scale: Float
        public var zeroPoint: Int32
    }

    /// `model` with fake-quant inserted before its quantizable layers, calibrated on `calibration`
    /// (already fitted to the model input); also returns the calibrated parameters in graph order.
    public static func apply(_ spec: ActivationSpec, to model: Model, calibration: Dataset,
                             batch: Int = 256) throws -> (Model, [Calibrated]) {
        let prepared = try prepare(spec, to: model, calibration: calibration, batch: batch)
        return (prepared.model, prepared.calibrated)
    }

    /// The result of `prepare`: the model to evaluate, the calibrated fake-quant parameters and, with
    /// `smooth=α`, what SmoothQuant did.
    public struct Prepared: Sendable {
        public var model: Model
        public var calibrated: [Calibrated]
        public var smoothing: SmoothQuant.Result?
    }

    /// Like `apply`, and with `spec.smoothing` first rewrites the model with SmoothQuant / SQ-b
    /// (calibrated on the same samples), then calibrates the per-tensor quantizers on the smoothed
    /// inputs `X̂` (a second pass, so clipping rules see the real smoothed values). Quantize weights
    /// on the returned model: the smoothed layers' weights are `Ŵ = W·s`.
    public static func prepare(_ spec: ActivationSpec, to original: Model, calibration: Dataset,
                               batch: Int = 256) throws -> Prepared {
        guard calibration.count > 0 else { throw QScopeError("activation calibration needs at least one sample") }
        var model = original
        var smoothing: SmoothQuant.Result?
        if let smooth = spec.smoothing {
            let result = try SmoothQuant.apply(smooth, to: original, calibration: calibration, batch: batch)
            model = result.model
            smoothing = result
        }
        var inputs: [ValueID] = []
        for layer in model.layers {
            if let input = model.graph.nodes[layer.nodeIndex].inputs[0], !inputs.contains(input) { inputs.append(input) }
        }
        let stats = try observe(model: model, inputs: inputs, calibration: calibration, batch: batch,
                                keepValues: spec.clipping != .none)
        let quantizer = spec.quantizer
        let calibrated = inputs.map { id -> Calibrated in
            let s = stats[id]!
            let (scale, zero): (Float, Int32)
            if spec.clipping == .none || s.kept.isEmpty {
                (scale, zero) = quantizer.parameters(forRange: s.low, s.high)
            } else {
                let encoded = quantizer.quantize(s.kept, rows: 1, columns: s.kept.count)
                (scale, zero) = (encoded.scales[0], encoded.zeroPoints.first ?? 0)
            }
            return Calibrated(input: id, low: s.low, high: s.high, scale: scale, zeroPoint: zero)
        }
        return Prepared(model: insert(calibrated, spec: spec, into: model), calibrated: calibrated, smoothing: smoothing)
    }

    private struct Observed {
        var low: Float = .infinity
        var high: Float = -.infinity
        var kept: [Float] = []
    }

    /// Min, max (and a subsample) of each value in `inputs` over the calibration samples.
    private static func observe(model: Model, inputs: [ValueID], calibration: Dataset, batch: Int,
                                keepValues: Bool) throws -> [ValueID: Observed] {
        let total = calibration.count
        var stats = Dictionary(uniqueKeysWithValues: inputs.map { ($0, Observed()) })
        try CalibrationPass.run(model: model, calibration: calibration, batch: batch) { graph, n in
            for id in inputs {
                guard let values = graph.value(id) else { throw QScopeError("layer input \(model.graph.valueNames[id]) is not kept") }
                var s = stats[id]!
                for v in values where !v.isNaN {
                    s.low = min(s.low, v)
                    s.high = max(s.high, v)
                }
                if keepValues {
                    let perSample = values.count / max(n, 1)
                    let stride = max(1, (perSample * total + maxKeptValues - 1) / maxKeptValues)
                    for i in Swift.stride(from: 0, to: values.count, by: stride) { s.kept.append(values[i]) }
                }
                stats[id] = s
            }
        }
        return stats
    }

    /// The graph with a `QScopeFakeQuant` node before the first reader of each calibrated input, and
    /// every quantizable layer reading the fake-quantized value (`PlanActivations.insert` with every
    /// layer that reads the input).
    static func insert(_ calibrated: [Calibrated], spec: ActivationSpec, into model: Model) -> Model {
        let entries = calibrated.map { c in
            PlanActivations.Entry(input: c.input, spec: spec,
                                  layers: model.layers.indices.filter { model.graph.nodes[model.layers[$0].nodeIndex].inputs.first == c.input },
                                  calibrated: c)
        }
        return PlanActivations.insert(entries, into: model)
    }
}
