import Analysis
import Testing

/// The Rademacher probes of the Hutchinson estimator are a fixed function of (seed, probe, layer):
/// tools/make_transformer_fixtures.py (`qscope_rademacher`) replays them in float64 PyTorch to check
/// the MiniLM traces probe for probe. These sign strings were printed by that Python replica; if the
/// Swift generator changes, this test fails and the replica must change with it.
@Suite("Hutchinson probes")
struct HutchinsonProbeTests {
    static let expected: [(seed: UInt64, probe: Int, layer: Int, signs: String)] = [
        (0, 0, 0, "++++-+-++-++--+++-+++---++-++++-+--+++-----+-+-+-----+---+---+++--+-++"),
        (7, 3, 5, "--+-+--+--"),
        (0, 19, 35, "--+--+---+--+-+--+--+-+--+--+--+-+-+++--+--++-+-+---++-++--+-+++----+-+-+---++++--++-+-+-++++-+--+-+---+++-+-+--++--+++-+--++--+++"),
    ]

    @Test("the probe stream matches the reference script's replica", arguments: 0..<3)
    func probeStreamIsPinned(_ index: Int) {
        let (seed, probe, layer, signs) = Self.expected[index]
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: signs.count)
        defer { buffer.deallocate() }
        HessianTraceEstimator.rademacher(seed: seed, probe: probe, layer: layer, into: buffer, count: signs.count)
        let drawn = String((0..<signs.count).map { buffer[$0] > 0 ? "+" : "-" })
        #expect(drawn == signs)
    }
}
