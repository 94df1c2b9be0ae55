import Analysis

/// `qscope eval` without a plan: accuracy and throughput, with the quantizers applied.
struct EvalReport: CommandReport {
    var model: String
    var data: String
    /// The shape of one sample (text only).
    var sampleShape: [Int]
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
    /// FP32 accuracy under ONNX Runtime, from the sample models' manifest.
    var referenceAccuracyOnnxruntime: Double?
    var logitsFile: String?
    var quantization: UniformQuantizationSummary

    private enum CodingKeys: String, CodingKey {
        case model, data, samples, classes, batch, seconds, imagesPerSecond = "images_per_second", correct, accuracy
        case ci95Low = "ci95_low", ci95High = "ci95_high"
        case referenceAccuracyOnnxruntime = "reference_accuracy_onnxruntime", logitsFile = "logits_file"
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
        try container.encodeIfPresent(referenceAccuracyOnnxruntime, forKey: .referenceAccuracyOnnxruntime)
        try container.encodeIfPresent(logitsFile, forKey: .logitsFile)
        try quantization.encode(to: encoder)
    }

    var lines: [String] {
        var lines = ["model     \(model)", "data      \(data)  (\(samples) samples of \(sampleShape))"]
        if let accuracy, let ci95Low, let ci95High, let correct {
            lines.append("accuracy  \(fixed(accuracy * 100, 2)) %  (95% CI \(fixed(ci95Low * 100, 2))–\(fixed(ci95High * 100, 2)) %)  \(correct)/\(samples) correct")
        } else {
            lines.append("accuracy  n/a (the data has no labels)")
        }
        lines += quantization.lines
        if let referenceAccuracyOnnxruntime {
            lines.append("reference \(fixed(referenceAccuracyOnnxruntime * 100, 2)) % (FP32, ONNX Runtime, from the manifest)")
        }
        lines.append("speed     \(fixed(imagesPerSecond, 0)) images/s  (batch \(batch), \(fixed(seconds, 3)) s)")
        if let logitsFile { lines.append("logits    \(logitsFile)  [\(samples), \(classes)] float32") }
        return lines
    }
}
