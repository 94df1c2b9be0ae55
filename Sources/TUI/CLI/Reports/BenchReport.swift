import Analysis

/// `qscope bench`: forward-pass throughput at one batch size.
struct BenchReport: CommandReport {
    var runtime = "qscope"
    var model: String
    var batch: Int
    var runs: Int
    /// Untimed runs first (text only).
    var warmup: Int
    var threads: Int
    /// Seconds per forward pass of the batch: the fastest and the median timed run.
    var bestSeconds: Double
    var medianSeconds: Double
    /// Multiply-accumulates of one pass of the batch.
    var macsPerPass: Int

    var imagesPerSecond: Double { Double(batch) / bestSeconds }
    var medianImagesPerSecond: Double { Double(batch) / medianSeconds }
    /// Effective GFLOP/s of the best run (two FLOPs per multiply-accumulate).
    var gflopsPerSecond: Double { 2 * Double(macsPerPass) / bestSeconds / 1e9 }

    private enum CodingKeys: String, CodingKey {
        case runtime, model, batch, runs, threads, bestSeconds = "best_seconds", medianSeconds = "median_seconds"
        case imagesPerSecond = "images_per_second", medianImagesPerSecond = "median_images_per_second"
        case gflopsPerSecond = "gflops_per_second", macsPerPass = "macs_per_pass"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(runtime, forKey: .runtime)
        try container.encode(model, forKey: .model)
        try container.encode(batch, forKey: .batch)
        try container.encode(runs, forKey: .runs)
        try container.encode(threads, forKey: .threads)
        try container.encode(bestSeconds, forKey: .bestSeconds)
        try container.encode(medianSeconds, forKey: .medianSeconds)
        try container.encode(imagesPerSecond, forKey: .imagesPerSecond)
        try container.encode(medianImagesPerSecond, forKey: .medianImagesPerSecond)
        try container.encode(gflopsPerSecond, forKey: .gflopsPerSecond)
        try container.encode(macsPerPass, forKey: .macsPerPass)
    }

    var lines: [String] {
        [
            "model    \(model)  (batch \(batch), \(threads) threads, \(runs) runs after \(warmup) warm-up)",
            "best     \(fixed(bestSeconds * 1000, 3)) ms  ->  \(fixed(imagesPerSecond, 1)) samples/s, \(fixed(gflopsPerSecond, 1)) GFLOP/s effective",
            "median   \(fixed(medianSeconds * 1000, 3)) ms  ->  \(fixed(medianImagesPerSecond, 1)) samples/s",
        ]
    }
}
