extension Duration {
    /// The duration in seconds, as a Double (the unit every report's timings are in).
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) * 1e-18
    }
}
