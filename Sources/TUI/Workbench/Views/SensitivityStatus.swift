/// The status line's segment for the background Hessian analysis: shown while it computes (probes
/// done / ceiling) or when it failed; gone once the traces are final (the table shows them).
enum SensitivityStatus {
    /// "traces 24/200 probes" ("tr 24/200" compact); "traces starting"; "traces failed: …"
    /// ("traces failed" compact).
    static func segment(_ state: AppState, compact: Bool) -> (String, Style)? {
        let s = state.sensitivity
        switch s.phase {
        case .waiting, .finished:
            return nil
        case .starting:
            return (compact ? "tr …" : "traces starting", Style(.warn))
        case .running:
            guard s.maxProbes > 0 else { return (compact ? "tr …" : "traces starting", Style(.warn)) }
            let loss = s.lossKind == "kl-to-fp32" ? " (KL)" : s.lossKind == "mse-to-fp32" ? " (MSE)" : ""
            return (compact ? "tr \(s.probes)/\(s.maxProbes)" : "traces \(s.probes)/\(s.maxProbes) probes\(loss)", Style(.warn))
        case .failed(let message):
            // The whole message is also the notice in the bottom row (reduceSensitivity).
            return (compact ? "traces failed" : "traces failed: " + message, Style(.bad))
        }
    }
}
