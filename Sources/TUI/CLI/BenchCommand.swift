import Analysis
import ArgumentParser
import Executor
import Kernels

struct BenchCommand: AsyncParsableCommand {
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

    @OptionGroup var output: OutputOptions

    @Flag(name: .long, help: "Also time each op type (summed over nodes, median over runs).")
    var profile = false

    @Flag(name: .long, help: "Measure the workbench instead: one-layer edit -> accuracy on every layer, and frame rendering.")
    var workbench = false

    func validate() throws {
        try requirePositive(batchOption, "--batch")
        try requirePositive(threads, "--threads")
        try requirePositive(runs, "--runs")
    }

    func run() async throws {
        try await reportingErrors {
            let (model, dataset) = try options.load()
            guard dataset.count > 0 else { throw QScopeError(file: dataset.source, "has no samples") }
            if workbench {
                try output.print(try await WorkbenchBenchmark.run(model: model, dataset: dataset,
                                                                  batch: batchOption ?? PlanEvaluator.defaultBatchSize,
                                                                  frames: max(runs, 50)))
                return
            }
            let batch = batchOption ?? 256
            let graph = try model.compile(batch: batch, sampleShapes: dataset.sampleShapes, threads: threads)
            // The first `batch` samples of every input, repeated when the data has fewer.
            var inputs = dataset
            inputs.labels = nil
            for index in inputs.arrays.indices {
                let array = dataset.arrays[index], size = array.sampleSize
                inputs.arrays[index].values = (0..<batch).flatMap { i in
                    array.values[((i % dataset.count) * size)..<((i % dataset.count) * size + size)]
                }
            }
            let clock = ContinuousClock()
            var times: [Double] = []
            try inputs.withInputs(from: 0) { pointers in
                for run in 0..<(warmup + runs) {
                    let elapsed = clock.measure { graph.run(pointers) }
                    if let fault = graph.takeRuntimeFault() { throw fault.inFile(model.path) }
                    if run >= warmup { times.append(elapsed.seconds) }
                }
            }
            if profile { printProfile(model: model, graph: graph, inputs: inputs) }
            times.sort()
            try output.print(BenchReport(model: model.path, batch: batch, runs: runs, warmup: warmup, threads: graph.threads,
                                         bestSeconds: times[0], medianSeconds: times[times.count / 2],
                                         macsPerPass: graph.multiplyAccumulates))
        }
    }

    /// `--profile`: the eight slowest nodes, then every op type's time (medians over `runs` passes).
    /// Printed before the report, in text even with `--json`.
    private func printProfile(model: Model, graph: CompiledGraph, inputs: Dataset) {
        var perNode: [Int: [Double]] = [:]
        inputs.withInputs(from: 0) { pointers in
            for _ in 0..<runs {
                for (node, seconds) in graph.runProfiled(pointers) { perNode[node, default: []].append(seconds) }
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
        var table = ReportTable(columns: [.init(width: .fixed(8)), .init(width: .fixed(20), gap: 1), .init(gap: 1)], showsHeader: false)
        for (op, entry) in perOp.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            table.append(["profile", String(op.prefix(20)), "\(fixed(entry.seconds * 1000, 3)) ms  \(fixed(entry.seconds / total * 100, 1)) %  (\(entry.nodes) nodes)"])
        }
        for line in table.render() { print(line) }
    }
}
