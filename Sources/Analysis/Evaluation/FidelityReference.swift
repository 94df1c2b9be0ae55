import Foundation
import Kernels

/// The FP32 model's first output on every sample of a data set, with what scoring against it needs
/// precomputed: each position's top-1 and log-sum-exp, each sample's norm.
public struct FidelityReference: Sendable {
    public let layout: OutputLayout
    /// `samples × layout.sampleSize` values.
    public let outputs: [Float]
    public let labels: [Int]?
    /// Per position (sample-major), the index of the largest value along the last axis.
    let top1: [Int32]
    /// Per position, log Σ exp over the last axis (logits only; empty otherwise).
    let logSumExp: [Double]
    /// Per sample, the Euclidean norm of its output.
    let norms: [Double]

    public var samples: Int { layout.sampleSize > 0 ? outputs.count / layout.sampleSize : 0 }

    /// - Parameters:
    ///   - outputs: the FP32 outputs, `samples × layout.sampleSize`, sample-major.
    ///   - labels: one class per sample, used only when `layout.isClassifier`.
    public init(layout: OutputLayout, outputs: [Float], labels: [Int]?) {
        self.layout = layout
        self.outputs = outputs
        self.labels = layout.isClassifier ? labels : nil
        let classes = layout.classes, rows = layout.sampleSize > 0 ? outputs.count / max(classes, 1) : 0
        var top1 = [Int32](repeating: 0, count: rows)
        var logSumExp = layout.kind == .logits ? [Double](repeating: 0, count: rows) : []
        outputs.withUnsafeBufferPointer { out in
            for row in 0..<rows {
                let values = out.baseAddress! + row * classes
                top1[row] = Int32(argmax(values, count: classes))
                if layout.kind == .logits { logSumExp[row] = FidelityTally.logSumExp(values, classes) }
            }
        }
        self.top1 = top1
        self.logSumExp = logSumExp
        let size = layout.sampleSize
        let samples = size > 0 ? outputs.count / size : 0
        var norms = [Double](repeating: 0, count: samples)
        for s in 0..<samples {
            var squares: Double = 0
            for i in (s * size)..<((s + 1) * size) { squares += Double(outputs[i]) * Double(outputs[i]) }
            norms[s] = squares.squareRoot()
        }
        self.norms = norms
    }

    /// The reference scored against itself: agreement and cosine 1, SQNR infinite, KL 0, and the
    /// FP32 accuracy when labels score the output.
    public var selfMetrics: FidelityMetrics { selfTally.metrics(reference: self) }

    /// The tally of the reference against itself (its counts: correct against the labels).
    public var selfTally: FidelityTally {
        var tally = FidelityTally()
        outputs.withUnsafeBufferPointer { tally.add(outputs: $0.baseAddress!, first: 0, count: samples, reference: self) }
        return tally
    }
}
