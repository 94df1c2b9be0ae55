import Dispatch
import Executor
import Synchronization
import Foundation
import Kernels

/// `qscope compare`: one quantizer per family at a bit-width, applied to the whole model or one layer,
/// each scored against the FP32 model on the same data.
public final class QuantizerComparison: Sendable {
    /// One row of the table.
    public struct Row: Sendable, Hashable {
        public var quantizer: String
        /// The activation spec of an activation row (`activationRow`), nil for weight-only rows.
        public var activations: String?
        /// Layers SmoothQuant / SQ-b smoothed in an activation row with `smooth=α`.
        public var smoothedLayers: [String]?
        /// Bits per weight including all metadata (scales, zero points, codebooks...).
        public var bitsPerWeight: Double
        /// Storage of the quantized layers in MB (2^20 bytes), codes plus metadata.
        public var sizeMB: Double
        /// For SplitQuant: the size if the three parts are stored densely (`3·n·b` codes plus three sets of metadata).
        public var denseSizeMB: Double?
        public var weightSQNR: Double
        /// SQNR of the first output against the FP32 output, in dB.
        public var outputSQNR: Double
        public var accuracy: Double?
        /// Accuracy minus the FP32 accuracy.
        public var delta: Double?
        /// The headline fidelity metric (the default for the output and data), its value against
        /// the FP32 outputs and its change from FP32's own value (nil for rows made without a baseline).
        public var headline: FidelityMetric?
        public var score: Double?
        public var scoreDelta: Double?
        /// Quantization plus evaluation time.
        public var seconds: Double
        /// Whether the `lut` k-means was weighted by the Fisher diagonal (false for other families).
        public var fisherWeighted = false

        public init(quantizer: String, activations: String?, smoothedLayers: [String]?, bitsPerWeight: Double, sizeMB: Double,
                    denseSizeMB: Double?, weightSQNR: Double, outputSQNR: Double, accuracy: Double?, delta: Double?,
                    seconds: Double, fisherWeighted: Bool = false) {
            self.quantizer = quantizer
            self.activations = activations
            self.smoothedLayers = smoothedLayers
            self.bitsPerWeight = bitsPerWeight
            self.sizeMB = sizeMB
            self.denseSizeMB = denseSizeMB
            self.weightSQNR = weightSQNR
            self.outputSQNR = outputSQNR
            self.accuracy = accuracy
            self.delta = delta
            self.seconds = seconds
            self.fisherWeighted = fisherWeighted
        }
    }

    public let model: Model
    public let dataset: Dataset
    public let batch: Int
    /// The Fisher diagonal that weights `lut` rows' k-means (nil: plain k-means).
    public let fisher: FisherDiagonal?
    /// Evaluators not in use: each holds its own compiled graphs, so rows can run concurrently.
    private let idle: Mutex<[Evaluator]>

    /// - Parameter fisher: computed once per model and data by the caller (`FisherDiagonal.compute`),
    ///   shared by every `lut` row.
    public init(model: Model, dataset: Dataset, batch: Int = 256, fisher: FisherDiagonal? = nil) {
        self.model = model
        self.dataset = dataset
        self.batch = batch
        self.fisher = fisher
        self.idle = Mutex([])
    }

    /// Runs `body` with an evaluator no other thread is using.
    private func withEvaluator<T>(_ body: (Evaluator) throws -> T) rethrows -> T {
        let evaluator = idle.withLock { $0.popLast() } ?? Evaluator(model: model, sampleShapes: dataset.sampleShapes)
        defer { idle.withLock { $0.append(evaluator) } }
        return try body(evaluator)
    }

    /// One spec per family at `bits`: intB, intB:clip=mse, intB:group=32 (B ≤ 8), the FP formats of
    /// that width (with the MX block variant for FP4), powB, potB (B ≤ 6), lutB, lutB:sparse=0.5,
    /// split3:intB and split3:intB:asym (the paper's affine parts; pow/lut/FP only for B ≤ 8).
    public static func specs(bits: Int) throws -> [QuantizerSpec] {
        guard (2...16).contains(bits) else { throw QScopeError("--bits must be 2..16, got \(bits)") }
        var texts = ["int\(bits)", "int\(bits):clip=mse"]
        if bits <= 8 {
            texts.append("int\(bits):group=32")
            switch bits {
            case 8: texts += ["fp8:e4m3", "fp8:e5m2"]
            case 6: texts += ["fp6:e3m2", "fp6:e2m3"]
            case 4: texts += ["fp4:e2m1", "fp4:e2m1:block=32"]
            default: break
            }
            texts += ["pow\(bits)"] + (bits <= 6 ? ["pot\(bits)"] : []) + ["lut\(bits)", "lut\(bits):sparse=0.5"]
        }
        texts += ["split3:int\(bits)", "split3:int\(bits):asym"]
        return try texts.map { try QuantizerSpec(parsing: $0) }
    }

    /// The FP32 evaluation the rows are scored against: its result (accuracy against the labels) and
    /// its outputs as the fidelity reference, with the default headline for the output and the data.
    public struct Baseline: Sendable {
        public let result: EvaluationResult
        let reference: FidelityReference
        let headline: FidelityMetric
        /// The reference scored against itself (agreement and cosine 1, its accuracy).
        let metrics: FidelityMetrics
    }

    /// The FP32 baseline, computed once by the caller and passed to every row.
    public func baseline() throws -> Baseline {
        let result = try withEvaluator { try $0.evaluate(dataset, batch: batch, weights: nil, keepOutputs: true) }
        let scoring = try FidelityScoring(inferred: result.layout, hasLabels: dataset.labels != nil, requested: nil)
        let reference = FidelityReference(layout: scoring.layout, outputs: result.outputs ?? [], labels: dataset.labels)
        return Baseline(result: result, reference: reference, headline: scoring.headline, metrics: reference.selfMetrics)
    }

    /// A row's scores against `baseline`: the output SQNR, the accuracy and its change, and the
    /// headline metric and its change.
    private static func scored(_ row: inout Row, _ result: EvaluationResult, against baseline: Baseline) {
        let metrics = result.fidelity ?? baseline.metrics
        row.outputSQNR = metrics.sqnrDB
        row.accuracy = result.accuracy
        row.delta = result.accuracy.flatMap { a in baseline.result.accuracy.map { a - $0 } }
        row.headline = baseline.headline
        row.score = metrics.value(baseline.headline)
        row.scoreDelta = row.score.flatMap { value in baseline.metrics.value(baseline.headline).map { value - $0 } }
    }

    /// Scores `spec` on `layers` (nil: every layer) against `baseline`.
    public func row(_ spec: QuantizerSpec, layers: [QuantizableLayer]?, baseline: Baseline,
                    threads: Int = Parallel.maxThreads) throws -> Row {
        let start = DispatchTime.now().uptimeNanoseconds
        let weights = try QuantizedModelWeights(model: model, spec: spec, layers: layers, fisher: fisher, threads: threads)
        let result = try withEvaluator {
            try $0.evaluate(dataset, batch: batch, weights: weights, reference: baseline.reference)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let dense = weights.results.compactMap(\.denseTotalBits)
        var row = Row(quantizer: spec.description, activations: nil, smoothedLayers: nil, bitsPerWeight: weights.bitsPerWeight,
                   sizeMB: Double(weights.totalBits) / 8 / 1_048_576,
                   denseSizeMB: dense.isEmpty ? nil : Double(dense.reduce(0, +)) / 8 / 1_048_576,
                   weightSQNR: weights.weightSQNR(model: model), outputSQNR: .nan, accuracy: nil, delta: nil,
                   seconds: seconds, fisherWeighted: weights.fisherWeighted)
        Self.scored(&row, result, against: baseline)
        return row
    }

    /// The activation rows `compare --activations SPEC` adds: SPEC without smoothing, with
    /// `smooth=α` (SmoothQuant) and with `smooth=α:bias` (SQ-b); α from SPEC when it has one, else
    /// `alpha`.
    public static func activationSpecs(_ spec: ActivationSpec, alpha: Float = 0.5) -> [ActivationSpec] {
        let a = spec.smoothing?.alpha ?? alpha
        var plain = spec
        plain.smoothing = nil
        var smooth = spec
        smooth.smoothing = .init(alpha: a, bias: false)
        var biased = spec
        biased.smoothing = .init(alpha: a, bias: true)
        return [plain, smooth, biased]
    }

    /// Weights `weights` (nil: FP32) on `layers` (by name; nil: every layer) plus static activation
    /// fake-quant `activations` calibrated on the first `calibration` samples (with smoothing when the
    /// spec asks; the weights quantized are then the smoothed ones), scored against `baseline`.
    public func activationRow(weights: QuantizerSpec?, activations: ActivationSpec, calibration: Int,
                              layers: [QuantizableLayer]? = nil, baseline: Baseline,
                              threads: Int = Parallel.maxThreads) throws -> Row {
        let start = DispatchTime.now().uptimeNanoseconds
        let prepared = try ActivationQuantization.prepare(activations, to: model, calibration: dataset.prefix(calibration),
                                                          batch: batch)
        var quantized: QuantizedModelWeights?
        if let weights {
            let names = layers.map { Set($0.map(\.name)) }
            let chosen = names.map { n in prepared.model.layers.filter { n.contains($0.name) } }
            quantized = try QuantizedModelWeights(model: prepared.model, spec: weights, layers: chosen, threads: threads)
        }
        let evaluator = Evaluator(model: prepared.model, sampleShapes: dataset.sampleShapes)
        let result = try evaluator.evaluate(dataset, batch: batch, weights: quantized, reference: baseline.reference)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let dense = quantized?.results.compactMap(\.denseTotalBits) ?? []
        var row = Row(quantizer: weights?.description ?? "fp32", activations: activations.description,
                   smoothedLayers: prepared.smoothing?.layers.map(\.name),
                   bitsPerWeight: quantized?.bitsPerWeight ?? 32,
                   sizeMB: quantized.map { Double($0.totalBits) / 8 / 1_048_576 }
                       ?? Double((layers ?? model.layers).reduce(0) { $0 + $1.parameterCount } * 32) / 8 / 1_048_576,
                   denseSizeMB: dense.isEmpty ? nil : Double(dense.reduce(0, +)) / 8 / 1_048_576,
                   weightSQNR: quantized?.weightSQNR(model: prepared.model) ?? .infinity, outputSQNR: .nan,
                   accuracy: nil, delta: nil, seconds: seconds)
        Self.scored(&row, result, against: baseline)
        return row
    }

    /// All rows for `specs` in order, `threads` rows at a time (each row single-threaded: rows are
    /// independent, which keeps both cores busy where one forward pass would not), reporting each as
    /// it finishes (`progress` is called under a lock, in completion order). Rows not started when
    /// `isCancelled` turns true are left out; the first error is rethrown after running rows finish.
    public func run(_ specs: [QuantizerSpec], layers: [QuantizableLayer]? = nil, threads: Int = Parallel.maxThreads,
                    progress: (Int, Row) -> Void = { _, _ in }, isCancelled: () -> Bool = { false }) throws -> [Row] {
        let base = try baseline()
        let state = Mutex<(rows: [Row?], error: QScopeError?)>((Array(repeating: nil, count: specs.count), nil))
        let report = Mutex(())
        Parallel.forEach(specs.count, threads: threads) { index in
            if isCancelled() || state.withLock({ $0.error != nil }) { return }
            do {
                let row = try self.row(specs[index], layers: layers, baseline: base, threads: 1)
                state.withLock { $0.rows[index] = row }
                report.withLock { _ in progress(index, row) }
            } catch {
                let failure = error as? QScopeError ?? QScopeError("\(specs[index]): \(error)")
                state.withLock { if $0.error == nil { $0.error = failure } }
            }
        }
        let (rows, error) = state.withLock { ($0.rows, $0.error) }
        if let error { throw error }
        return rows.compactMap { $0 }
    }
}
