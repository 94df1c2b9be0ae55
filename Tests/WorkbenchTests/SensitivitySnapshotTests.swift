import Analysis
import Executor
import SnapshotTesting
import Testing
import Workbench

/// Screens with the sensitivity analysis in them (trace column with bars, Ω, the status segment and
/// the detail lines), rendered to text and compared with committed file snapshots
/// (`__Snapshots__/SensitivitySnapshotTests/*.txt`; re-record with `SNAPSHOT_TESTING_RECORD=all`).
/// The states hold fixed numbers (`SensitivityFixtures`), nothing is estimated.
@Suite("sensitivity snapshots", .snapshots(record: .missing))
struct SensitivitySnapshotTests {
    static let sizes = [Size(width: 120, height: 40), Size(width: 80, height: 24)]

    func buffer(_ state: AppState) -> CellBuffer {
        var buffer = CellBuffer(size: state.size)
        renderScreen(state, into: &buffer)
        return buffer
    }

    /// One letter per cell for its role, digits for heat levels / 10, lower-case `x` for dim text.
    func roles(_ state: AppState) -> String {
        let buffer = buffer(state)
        let letters: [Role: Character] = [
            .text: ".", .dim: "d", .accent: "A", .good: "g", .bad: "b", .warn: "w", .selection: "S", .header: "H",
            .border: "-", .status: "s", .bar: "|", .grid: "#", .overlay: "o",
        ]
        return (0..<buffer.size.height).map { y in
            String((0..<buffer.size.width).map { x -> Character in
                let style = buffer[x, y].style
                if style.attributes.contains(.dim) && style.role != .dim { return "x" }
                return style.role == .heat ? Character(String(min(9, Int(style.level) / 10))) : letters[style.role]!
            })
        }.joined(separator: "\n")
    }

    @Test("analysis running: partial traces (unsettled ones dim), Ω, probes in the status line", arguments: sizes)
    func running(size: Size) {
        let state = SensitivityFixtures.analysing(Fixtures.editedState(size: size))
        assertSnapshot(of: buffer(state).text, as: .lines, named: "\(size)")
        assertSnapshot(of: roles(state), as: .lines, named: "\(size)-roles")
    }

    @Test("analysis finished, table sorted by trace", arguments: sizes)
    func sortedByTrace(size: Size) {
        var state = Fixtures.editedState(size: size)
        _ = reduce(&state, .sensitivity(.started(samples: 512, maxProbes: 200, tolerance: 0.02)))
        _ = reduce(&state, .sensitivity(.hessian(SensitivityFixtures.report(probes: 96, partial: false))))
        _ = reduce(&state, .key(.character("S")))
        assertSnapshot(of: buffer(state).text, as: .lines, named: "\(size)")
    }

    @Test("sorted by Ω with a layer at int5 (Ω from its SQNR)")
    func sortedByOmega() {
        var state = SensitivityFixtures.analysing(Fixtures.editedState())
        var plan = state.plan
        plan.choices[2].weights = .int(5)
        state.plan = plan
        state.evaluation = Fixtures.evaluation(plan, correct: 1790)
        state.selection = 2
        _ = reduce(&state, .key(.character("S")))
        _ = reduce(&state, .key(.character("S")))
        assertSnapshot(of: buffer(state).text, as: .lines, named: "120x40")
    }

    @Test("a post-ReLU input with most values at 0: the tallest activation bar is clipped (accent), the rest keep their scale")
    func clippedActivationBar() {
        var state = SensitivityFixtures.analysing(Fixtures.editedState())
        let old = SensitivityFixtures.activations(4)
        var histogram = old.histogram
        histogram[0] = 40 * histogram[1]
        _ = reduce(&state, .sensitivity(.activations(layer: 4, ActivationStatistics(
            name: old.name, samples: old.samples, count: histogram.reduce(0, +), nanCount: 0, minimum: old.minimum, maximum: old.maximum,
            mean: old.mean, standardDeviation: old.standardDeviation, skewness: old.skewness, negativeFraction: 0,
            histogram: histogram, symmetricMSE: old.symmetricMSE, asymmetricMSE: old.asymmetricMSE))))
        assertSnapshot(of: buffer(state).text, as: .lines, named: "120x40")
        assertSnapshot(of: roles(state), as: .lines, named: "120x40-roles")
    }

    @Test("analysis failed: placeholders and the message in the status line")
    func failed() {
        var state = Fixtures.editedState(size: Size(width: 80, height: 24))
        _ = reduce(&state, .sensitivity(.failed(message: "cnn.onnx: out of memory")))
        assertSnapshot(of: buffer(state).text, as: .lines, named: "80x24")
    }
}
