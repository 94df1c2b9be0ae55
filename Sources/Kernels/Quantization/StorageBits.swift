/// The storage a quantized weight tensor needs, split into the codes and everything else.
///
/// `payload` is the codes alone ("weights only", the figure papers quote); `metadata` is everything
/// else a decoder needs: scales, zero points, codebooks, shared exponents, sparse outliers and their
/// indices. Both are in bits.
public struct StorageBits: Sendable, Hashable {
    public var payload: Int
    public var metadata: Int

    public init(payload: Int, metadata: Int) {
        self.payload = payload
        self.metadata = metadata
    }

    /// Codes plus all metadata.
    public var total: Int { payload + metadata }

    public static func + (a: StorageBits, b: StorageBits) -> StorageBits {
        StorageBits(payload: a.payload + b.payload, metadata: a.metadata + b.metadata)
    }
}
