import Executor
/// Public constructors for the Hessian result types, whose memberwise initialisers are internal to
/// Analysis: the workbench's tests build screens from fixed numbers with these (never from a run).
extension LayerTrace {
    public init(named name: String, parameters: Int, trace: Double, standardError: Double, omega: [Int: Double],
                quantizationError: [Int: Double]) {
        self.init(name: name, parameters: parameters, trace: trace, standardError: standardError, omega: omega,
                  quantizationError: quantizationError)
    }
}

extension HessianReport {
    public init(traces layers: [LayerTrace], probes: Int, seconds: Double, loss: Double, lossKind: String, samples: Int,
                partial: Bool) {
        self.init(layers: layers, probes: probes, seconds: seconds, loss: loss, lossKind: lossKind, samples: samples,
                  partial: partial)
    }
}
