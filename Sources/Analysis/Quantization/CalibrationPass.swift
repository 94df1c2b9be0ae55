import Executor
/// Runs a model over calibration samples and shows each batch's retained values to a visitor: the
/// one pass that activation calibration and SmoothQuant's channel statistics both need.
enum CalibrationPass {
    /// Calls `visit(graph, n)` after each forward pass over batches of at most `batch` samples of
    /// `calibration` (in order; `n` samples in that batch), with every intermediate value kept
    /// (`retainAll`) so that `graph.value(id)` reads any layer's input. One compiled graph per
    /// distinct batch size.
    static func run(
        model: Model, calibration: Dataset, batch: Int, _ visit: (CompiledGraph, Int) throws -> Void
    ) throws {
        let total = calibration.count
        var graphs: [Int: CompiledGraph] = [:]
        var offset = 0
        while offset < total {
            let n = min(batch, total - offset)
            let graph: CompiledGraph
            if let cached = graphs[n] {
                graph = cached
            } else {
                graph = try model.compile(batch: n, sampleShapes: calibration.sampleShapes, retainAll: true)
                graphs[n] = graph
            }
            calibration.withInputs(from: offset) { graph.run($0) }
            if let fault = graph.takeRuntimeFault() { throw fault.inFile(model.path) }
            try visit(graph, n)
            offset += n
        }
    }
}
