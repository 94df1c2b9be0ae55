import Analysis

/// `qscope eval` without a plan: accuracy or fidelity to FP32, and throughput, with the quantizers applied.
struct EvalReport: CommandReport {
    var model: String
    var data: String
    /// The arrays fed to the model's inputs, `name type [N, ...]` (text only).
    var inputs: [String]
    var samples: Int
    var classes: Int
    var batch: Int
    var seconds: Double
    var imagesPerSecond: Double
    /// Correct top-1 predictions, the accuracy and its 95% Wilson interval (nil: the data has no labels).
    var correct: Int?
    var accuracy: Double?
    var ci95Low: Double?
    var ci95High: Double?
    /// The FP32 model's accuracy on the same data, when quantizers are applied and labels score the output.
    var fp32Accuracy: Double?
    /// FP32 accuracy under ONNX Runtime, from the sample models' manifest.
    var referenceAccuracyOnnxruntime: Double?
    var outputsFile: String?
    /// The written array's shape (text only).
    var outputsShape: [Int]
    /// Whether the data has labels (text only: why accuracy is missing).
    var hasLabels: Bool
    var fidelity: FidelityReportPart
    var quantization: UniformQuantizationSummary

    private enum CodingKeys: String, CodingKey {
        case model, data, samples, classes, batch, seconds, imagesPerSecond = "images_per_second", correct, accuracy
        case ci95Low = "ci95_low", ci95High = "ci95_high"
        case fp32Accuracy = "fp32_accuracy", referenceAccuracyOnnxruntime = "reference_accuracy_onnxruntime"
        case outputsFile = "outputs_file"
    }

    /// One flat object: the evaluation's fields and, beside them, the quantizers'.
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encode(data, forKey: .data)
        try container.encode(samples, forKey: .samples)
        try container.encode(classes, forKey: .classes)
        try container.encode(batch, forKey: .batch)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(imagesPerSecond, forKey: .imagesPerSecond)
        try container.encodeIfPresent(correct, forKey: .correct)
        try container.encodeIfPresent(accuracy, forKey: .accuracy)
        try container.encodeIfPresent(ci95Low, forKey: .ci95Low)
        try container.encodeIfPresent(ci95High, forKey: .ci95High)
        try container.encodeIfPresent(fp32Accuracy, forKey: .fp32Accuracy)
        try container.encodeIfPresent(referenceAccuracyOnnxruntime, forKey: .referenceAccuracyOnnxruntime)
        try container.encodeIfPresent(outputsFile, forKey: .outputsFile)
        try fidelity.encode(to: encoder)
        try quantization.encode(to: encoder)
    }

    var lines: [String] {
        var lines = ["model     \(model)", "data      \(data)  (\(samples) samples: \(inputs.joined(separator: ", ")))"]
        if let accuracy, let ci95Low, let ci95High, let correct {
            lines.append("accuracy  \(fixed(accuracy * 100, 2)) %  (95% CI \(fixed(ci95Low * 100, 2))–\(fixed(ci95High * 100, 2)) %)  \(correct)/\(samples) correct")
        } else {
            lines.append("accuracy  n/a (\(hasLabels ? "the output is not [N, classes] logits" : "the data has no labels"))")
        }
        if let fp32Accuracy { lines.append("fp32      \(fixed(fp32Accuracy * 100, 2)) % on the same data") }
        lines += fidelity.lines
        lines += quantization.lines
        if let referenceAccuracyOnnxruntime {
            lines.append("reference \(fixed(referenceAccuracyOnnxruntime * 100, 2)) % (FP32, ONNX Runtime, from the manifest)")
        }
        lines.append("speed     \(fixed(imagesPerSecond, 0)) samples/s  (batch \(batch), \(fixed(seconds, 3)) s)")
        if let outputsFile { lines.append("outputs   \(outputsFile)  \(outputsShape) float32") }
        return lines
    }
}
