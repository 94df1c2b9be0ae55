import Foundation
import Kernels

/// Running sums of the fidelity metrics over batches of outputs, against a `FidelityReference`.
///
/// Batches may be added in any grouping; tallies of separate batches `merge` (counts add, sums add,
/// the minimum cosine is the smaller), so lanes can tally their own batches and the caller merges
/// them in batch order for sums that do not depend on scheduling.
public struct FidelityTally: Sendable, Hashable {
    public private(set) var samples = 0
    /// Top-1 equal to the label (classifier with labels only).
    public private(set) var correct = 0
    /// Positions whose top-1 equals the reference's, and positions seen.
    public private(set) var agreeing = 0
    public private(set) var positions = 0
    var cosineSum: Double = 0
    var cosineMin: Double = .infinity
    var signal: Double = 0
    var noise: Double = 0
    var klSum: Double = 0

    public init() {}

    /// Adds `count` samples of outputs (`count × sampleSize` values) that correspond to reference
    /// samples `first ..< first + count`.
    public mutating func add(outputs: UnsafePointer<Float>, first: Int, count: Int, reference: FidelityReference) {
        let layout = reference.layout
        let size = layout.sampleSize, classes = max(layout.classes, 1), rowsPerSample = layout.positions
        reference.outputs.withUnsafeBufferPointer { refBuffer in
            let ref = refBuffer.baseAddress!
            for s in 0..<count {
                let sample = first + s
                let out = outputs + s * size, expected = ref + sample * size
                var dot: Double = 0, squares: Double = 0, error: Double = 0
                for i in 0..<size {
                    let o = Double(out[i]), r = Double(expected[i])
                    dot += o * r
                    squares += o * o
                    error += (o - r) * (o - r)
                }
                let denominator = squares.squareRoot() * reference.norms[sample]
                // Two zero vectors are identical; one zero against a non-zero is orthogonal.
                let cosine = denominator > 0 ? dot / denominator : (squares == 0 && reference.norms[sample] == 0 ? 1 : 0)
                cosineSum += cosine
                cosineMin = min(cosineMin, cosine)
                noise += error
                signal += reference.norms[sample] * reference.norms[sample]
                for p in 0..<rowsPerSample {
                    let row = sample * rowsPerSample + p
                    let values = out + p * classes
                    let top = argmax(values, count: classes)
                    if top == Int(reference.top1[row]) { agreeing += 1 }
                    if let labels = reference.labels, top == labels[sample] { correct += 1 }
                    if layout.kind == .logits {
                        klSum += Self.kl(reference: expected + p * classes, referenceLogSumExp: reference.logSumExp[row],
                                         output: values, classes: classes)
                    }
                }
                positions += rowsPerSample
            }
        }
        samples += count
    }

    /// The sums of `self` and `other` (batches tallied separately).
    public mutating func merge(_ other: FidelityTally) {
        samples += other.samples
        correct += other.correct
        agreeing += other.agreeing
        positions += other.positions
        cosineSum += other.cosineSum
        cosineMin = min(cosineMin, other.cosineMin)
        signal += other.signal
        noise += other.noise
        klSum += other.klSum
    }

    /// The metrics of everything added so far.
    public func metrics(reference: FidelityReference) -> FidelityMetrics {
        let layout = reference.layout
        let n = Double(max(samples, 1)), p = Double(max(positions, 1))
        let sqnr = noise > 0 ? 10 * log10(signal / noise) : .infinity
        return FidelityMetrics(
            accuracy: reference.labels != nil ? Double(correct) / n : nil,
            agreement: layout.classes >= 2 ? Double(agreeing) / p : nil,
            cosineMean: cosineSum / n, cosineMin: samples > 0 ? cosineMin : 1, sqnrDB: sqnr,
            kl: layout.kind == .logits ? klSum / p : nil)
    }

    // MARK: - Row kernels

    /// log Σ exp(values), in Double, shifted by the maximum for range.
    static func logSumExp(_ values: UnsafePointer<Float>, _ count: Int) -> Double {
        var peak = -Double.infinity
        for c in 0..<count { peak = max(peak, Double(values[c])) }
        guard peak.isFinite else { return peak }
        var sum: Double = 0
        for c in 0..<count { sum += Foundation.exp(Double(values[c]) - peak) }
        return peak + Foundation.log(sum)
    }

    /// KL(p ‖ q) = Σ p (log p − log q) for p = softmax(reference), q = softmax(output), nats.
    static func kl(reference: UnsafePointer<Float>, referenceLogSumExp: Double, output: UnsafePointer<Float>, classes: Int) -> Double {
        let outputLogSumExp = logSumExp(output, classes)
        var sum: Double = 0
        for c in 0..<classes {
            let logP = Double(reference[c]) - referenceLogSumExp
            let p = Foundation.exp(logP)
            if p > 0 { sum += p * (logP - (Double(output[c]) - outputLogSumExp)) }
        }
        return max(sum, 0)
    }
}
