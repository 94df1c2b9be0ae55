/// An event that names the request it answers: the generation its client gave the request.
///
/// Clients number their requests in a strictly increasing order (per kind of request), and a
/// `LatestWinsJob` posts an event only while its generation is the live one, so an answer to an
/// old request never reaches the client once a newer one was made.
public protocol GenerationTagged: Sendable {
    /// The generation of the request this event answers.
    var generation: UInt64 { get }
}

extension EngineEvent: GenerationTagged {}
extension CompareEvent: GenerationTagged {}
extension TradeoffEvent: GenerationTagged {}
