import Analysis
import Executor
import SnapshotTesting
import Testing
import Workbench

/// The Compare view rendered to text, half filled in, at both reference sizes (file snapshots in
/// `__Snapshots__/CompareSnapshotTests`; re-record with `SNAPSHOT_TESTING_RECORD=all`). Fixed numbers.
@Suite("compare view snapshots", .snapshots(record: .missing))
struct CompareSnapshotTests {
    func text(_ state: AppState) -> String {
        var buffer = CellBuffer(size: state.size)
        renderScreen(state, into: &buffer)
        return buffer.text
    }

    /// Layer 4 (int3) compared; rows 0–7 in (the lut row Fisher-weighted), cursor on row 2.
    static func state(size: Size) -> AppState {
        var state = Fixtures.editedState(size: size)
        _ = reduce(&state, .key(.character("c")))
        let compare = state.compare!
        _ = reduce(&state, .compare(.started(generation: compare.generation, layer: 4, bits: 3, quantizers: compare.quantizers)))
        for (index, name) in compare.quantizers.prefix(8).enumerated() {
            let d = Double(index)
            let row = QuantizerComparison.Row(
                quantizer: name, activations: nil, smoothedLayers: nil, bitsPerWeight: 3 + 0.125 * d, sizeMB: 0.0138 + 0.001 * d,
                denseSizeMB: nil, weightSQNR: 14.5 + 1.5 * d, outputSQNR: 22 + d, accuracy: 0.9285 - 0.004 * d,
                delta: -0.0035 - 0.004 * d + (index == 3 ? 0.0075 : 0), seconds: 0.31 + 0.02 * d,
                fisherWeighted: name.hasPrefix("lut"))
            _ = reduce(&state, .compare(.row(generation: compare.generation, index: index, row)))
        }
        _ = reduce(&state, .key(.down))
        _ = reduce(&state, .key(.down))
        return state
    }

    @Test("compare view: rows filling in, cursor, current spec marked", arguments: [Size(width: 120, height: 40), Size(width: 80, height: 24)])
    func compare(size: Size) {
        assertSnapshot(of: text(Self.state(size: size)), as: .lines, named: "\(size)")
    }

    @Test("compare view: all rows in, cursor scrolled to the last row (80x24 scrolls)")
    func finished() {
        var state = Self.state(size: Size(width: 80, height: 24))
        let compare = state.compare!
        for index in 8..<compare.quantizers.count {
            let row = QuantizerComparison.Row(
                quantizer: compare.quantizers[index], activations: nil, smoothedLayers: nil, bitsPerWeight: 4.585, sizeMB: 0.021,
                denseSizeMB: 0.04, weightSQNR: 21.25, outputSQNR: 33.5, accuracy: 0.9275, delta: -0.001, seconds: 0.9)
            _ = reduce(&state, .compare(.row(generation: compare.generation, index: index, row)))
        }
        _ = reduce(&state, .compare(.finished(generation: compare.generation)))
        for _ in 0..<compare.quantizers.count { _ = reduce(&state, .key(.down)) }
        assertSnapshot(of: text(state), as: .lines, named: "80x24")
    }
}
