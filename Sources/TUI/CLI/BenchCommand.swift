import Analysis
import ArgumentParser
import Executor
import Foundation
import Kernels

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Forward-pass throughput at a given batch: warm-up, then best and median of several runs."
    )

    @OptionGroup var options: ModelOptions

    @Option(name: .customLong("batch"), help: "Samples per forward pass (default 256; with --workbench the workbench's \(PlanEvaluator.defaultBatchSize)).")
    var batchOption: Int?

    @Option(name: .long, help: "Threads the operators use (default: one per core).")
    var threads: Int = Parallel.maxThreads

    @Option(name: .long, help: "Timed runs (the best and the median are reported).")
    var runs: Int = 20

    @Option(name: .long, help: "Untimed runs first.")
    var warmup: Int = 3

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @Flag(name: .long, help: "Also time each op type (summed over nodes, median over runs).")
    var profile = false

    @Flag(name: .long, help: "Measure the workbench instead: one-layer edit -> accuracy on every layer, and frame rendering.")
    var workbench = false

    func validate() throws {
        if let batchOption, batchOption < 1 { throw ValidationError("--batch must be at least 1") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if runs < 1 { throw ValidationError("--runs must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let (model, dataset) = try options.load()
            guard dataset.count > 0 else { throw QScopeError(file: dataset.source, "has no samples") }
            if workbench {
                let report = try WorkbenchBenchmark.run(model: model, dataset: dataset,
                                                        batch: batchOption ?? PlanEvaluator.defaultBatchSize, frames: max(runs, 50))
                if json { try printJSON(report.json) } else { report.lines.forEach { print($0) } }
                return
            }
            let batch = batchOption ?? 256
            let graph = try model.compile(batch: batch, sampleShape: dataset.sampleShape, threads: threads)
            // The first `batch` samples, repeated when the data has fewer.
            let size = dataset.sampleSize
            var input = [Float](repeating: 0, count: batch * size)
            for i in 0..<batch {
                let source = (i % dataset.count) * size
                input.replaceSubrange(i * size..<(i + 1) * size, with: dataset.x[source..<source + size])
            }
            var times: [Double] = []
            input.withUnsafeBufferPointer { x in
                for run in 0..<(warmup + runs) {
                    let start = DispatchTime.now().uptimeNanoseconds
                    graph.run([x.baseAddress!])
                    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                    if run >= warmup { times.append(seconds) }
                }
            }
            if profile {
                var perNode: [Int: [Double]] = [:]
                input.withUnsafeBufferPointer { x in
                    for _ in 0..<runs {
                        for (node, seconds) in graph.runProfiled([x.baseAddress!]) { perNode[node, default: []].append(seconds) }
                    }
                }
                var perOp: [String: (seconds: Double, nodes: Int)] = [:]
                for (node, samples) in perNode {
                    let median = samples.sorted()[samples.count / 2]
                    let op = model.graph.nodes[node].opType
                    perOp[op, default: (0, 0)].seconds += median
                    perOp[op, default: (0, 0)].nodes += 1
                }
                let total = perOp.values.reduce(0) { $0 + $1.seconds }
                let slowest = perNode.map { ($0.key, $0.value.sorted()[$0.value.count / 2]) }.sorted { $0.1 > $1.1 }.prefix(8)
                for (node, seconds) in slowest {
                    let n = model.graph.nodes[node]
                    let shapes = n.inputs.compactMap { $0.flatMap { graph.types[$0]?.shape } }
                    print("node     \(n.label) \(shapes) \(fixed(seconds * 1000, 3)) ms")
                }
                for (op, entry) in perOp.sorted(by: { $0.value.seconds > $1.value.seconds }) {
                    print("profile  \(op.padding(toLength: 20, withPad: " ", startingAt: 0)) \(fixed(entry.seconds * 1000, 3)) ms  \(fixed(entry.seconds / total * 100, 1)) %  (\(entry.nodes) nodes)")
                }
            }
            times.sort()
            let best = times[0], median = times[times.count / 2]
            let flops = 2 * Double(graph.multiplyAccumulates)
            if json {
                try printJSON([
                    "runtime": "qscope", "model": model.path, "batch": batch, "runs": runs, "threads": graph.threads,
                    "best_seconds": best, "median_seconds": median, "images_per_second": Double(batch) / best,
                    "median_images_per_second": Double(batch) / median, "gflops_per_second": flops / best / 1e9,
                    "macs_per_pass": graph.multiplyAccumulates,
                ])
                return
            }
            print("model    \(model.path)  (batch \(batch), \(graph.threads) threads, \(runs) runs after \(warmup) warm-up)")
            print("best     \(fixed(best * 1000, 3)) ms  ->  \(fixed(Double(batch) / best, 0)) images/s, \(fixed(flops / best / 1e9, 1)) GFLOP/s effective")
            print("median   \(fixed(median * 1000, 3)) ms  ->  \(fixed(Double(batch) / median, 0)) images/s")
        }
    }
}
