import Executor
/// The top Hessian eigenvalue of one layer's diagonal block (HAWQ v1's sensitivity), by
/// power iteration with exact Hessian-vector products restricted to the layer's weight.
public struct LayerEigenvalue: Sendable, Equatable {
    /// The layer's name (`QuantizableLayer.name`).
    public var name: String
    public var parameters: Int
    /// The eigenvalue of largest magnitude of H_ll (the Rayleigh quotient vᵀH_ll v at the last
    /// iterate); negative when the dominant curvature of the block is negative.
    public var eigenvalue: Double
    /// Power-iteration steps taken (Hessian-vector products with this block).
    public var iterations: Int
    /// True when the relative change of the eigenvalue fell below the tolerance before the cap.
    public var converged: Bool

    /// HAWQ v1's ranking key λ / #params.
    public var eigenvaluePerParameter: Double { eigenvalue / Double(max(parameters, 1)) }

    public init(name: String, parameters: Int, eigenvalue: Double, iterations: Int, converged: Bool) {
        self.name = name
        self.parameters = parameters
        self.eigenvalue = eigenvalue
        self.iterations = iterations
        self.converged = converged
    }
}
