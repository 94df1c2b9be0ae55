/// The order of the Layers table's rows; a key cycles through them and the table header names it.
///
/// Only the rows move: `AppState.selection` stays a layer index (edits act on the same layer
/// whatever the order), and the `#` column keeps showing the model index.
public enum LayerSort: String, CaseIterable, Hashable, Sendable {
    /// The model's order (topological, as `qscope info` lists the layers).
    case model
    /// Largest Hessian trace first; layers without an estimate yet keep model order at the end.
    case trace
    /// Largest HAWQ-V2 Ω at the current choice first; layers without one at the end.
    case omega
    /// Largest current size (with metadata) first; before the evaluation lands, parameters × bits.
    case size

    /// The next order in the cycle.
    public var next: LayerSort {
        let all = Self.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }

    /// For the table header: "model order", "trace ↓", "Ω ↓", "size ↓".
    public var label: String {
        switch self {
        case .model: return "model order"
        case .trace: return "trace ↓"
        case .omega: return "Ω ↓"
        case .size: return "size ↓"
        }
    }
}

extension AppState {
    /// Layer indices in the order the table shows them (a permutation of `0..<layers.count`).
    /// Ties and missing values fall back to model order, so the order is total and stable.
    public var layerOrder: [Int] {
        let indices = Array(model.layers.indices)
        func descending(_ key: (Int) -> Double?) -> [Int] {
            let keys = indices.map { key($0) }
            return indices.sorted { a, b in
                switch (keys[a], keys[b]) {
                case let (x?, y?): return x != y ? x > y : a < b
                case (_?, nil): return true
                case (nil, _?): return false
                case (nil, nil): return a < b
                }
            }
        }
        switch layerSort {
        case .model: return indices
        case .trace: return descending { sensitivity.trace($0)?.trace }
        case .omega: return descending { omega($0) }
        case .size:
            return descending { i in
                if let result = layerResult(i) { return Double(result.totalBits) }
                return Double(model.layers[i].parameters * plan.choices[i].weightBits)
            }
        }
    }

    /// The table row (0-based, before scrolling) of layer `layer` in `order`.
    func row(of layer: Int, in order: [Int]) -> Int { order.firstIndex(of: layer) ?? 0 }
}
