import Executor
extension Evaluator {
    /// Evaluates `dataset` with `weights` substituted into every compiled graph the pass uses (the full
    /// batch and the last partial one), then restores the FP32 weights. nil evaluates FP32.
    public func evaluate(_ dataset: Dataset, batch: Int = 256, weights: QuantizedModelWeights?,
                         keepOutputs: Bool = false, reference: FidelityReference? = nil) throws -> EvaluationResult {
        guard let weights else { return try evaluate(dataset, batch: batch, keepOutputs: keepOutputs, reference: reference) }
        let total = dataset.count
        let full = max(1, min(batch, max(total, 1)))
        var graphs = [try graph(batch: full)]
        if total % full != 0 { graphs.append(try graph(batch: total % full)) }
        for graph in graphs { weights.install(in: graph) }
        defer { for graph in graphs { weights.remove(from: graph) } }
        return try evaluate(dataset, batch: batch, keepOutputs: keepOutputs, reference: reference)
    }
}
