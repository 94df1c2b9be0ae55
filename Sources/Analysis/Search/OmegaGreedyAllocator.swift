import Executor
/// The simple heuristic the exact allocation is checked against in tests: start every
/// layer at its widest candidate and repeatedly lower the layer whose next smaller candidate adds
/// the least Ω per bit saved, until the plan fits.
public enum OmegaGreedyAllocator {
    /// The choice (candidate index per layer), or nil when even the smallest plan does not fit.
    ///
    /// - Parameter size: the size of a candidate as the comparison should count it (true bits, or the
    ///   rounded units of an `AllocationProblem` to compare like with like).
    public static func allocate(_ layers: [LayerCandidates], budget: Int,
                                size: (_ layer: Int, _ candidate: Int) -> Int) -> [Int]? {
        var choices = layers.map(\.widestIndex)
        var total = layers.indices.reduce(0) { $0 + size($1, choices[$1]) }
        while total > budget {
            var best: (layer: Int, next: Int, ratio: Double)?
            for (l, layer) in layers.enumerated() {
                // The next move: the widest candidate strictly smaller than the current one.
                let current = size(l, choices[l])
                guard let next = layer.candidates.indices.filter({ size(l, $0) < current })
                    .max(by: { size(l, $0) < size(l, $1) }) else { continue }
                let saved = Double(current - size(l, next))
                let ratio = (layer.omega(next)! - layer.omega(choices[l])!) / saved
                if best == nil || ratio < best!.ratio { best = (l, next, ratio) }
            }
            guard let move = best else { return nil }
            total += size(move.layer, move.next) - size(move.layer, choices[move.layer])
            choices[move.layer] = move.next
        }
        return choices
    }
}
