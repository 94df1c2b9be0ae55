import Executor
/// What the `LayerCompareEngine` tells the workbench, tagged with the generation of the request.
public enum CompareEvent: Hashable, Sendable {
    /// The rows about to be computed, in order (spec strings), and the layer and bit-width compared.
    case started(generation: UInt64, layer: Int, bits: Int, quantizers: [String])
    /// Row `index` of the `started` list is done.
    case row(generation: UInt64, index: Int, QuantizerComparison.Row)
    /// Every row is done.
    case finished(generation: UInt64)
    /// The comparison stopped; `message` is one line.
    case failed(generation: UInt64, message: String)

    public var generation: UInt64 {
        switch self {
        case .started(let g, _, _, _), .row(let g, _, _), .finished(let g), .failed(let g, _): return g
        }
    }
}
