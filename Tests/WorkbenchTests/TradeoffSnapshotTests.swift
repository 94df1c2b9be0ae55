import Analysis
import Executor
import SnapshotTesting
import Testing
import Workbench

/// The Trade-off pane, the export dialog, the budget prompt and the help overlay at both sizes,
/// from fixed numbers (`__Snapshots__/TradeoffSnapshotTests/*.txt`; re-record with
/// `SNAPSHOT_TESTING_RECORD=all`).
@Suite("trade-off snapshots", .snapshots(record: .missing))
struct TradeoffSnapshotTests {
    static let sizes = [Size(width: 120, height: 40), Size(width: 80, height: 24)]

    func text(_ state: AppState) -> String {
        var buffer = CellBuffer(size: state.size)
        renderScreen(state, into: &buffer)
        return buffer.text
    }

    static func uniform(_ bits: Int) -> Plan {
        var plan = Fixtures.floatPlan
        for i in plan.choices.indices { plan.choices[i].weights = .int(bits) }
        return plan
    }

    /// The edited fixture with the pane open, traces final and a finished sweep: uniform 8…2 bits,
    /// six HAWQ plans (layer-wise mixes of int3/int4/int6), two earlier session plans and the
    /// current plan (from `editedState`).
    static func sweptState(size: Size) -> AppState {
        var state = Fixtures.editedState(size: size)
        _ = reduce(&state, .sensitivity(.started(samples: 512, maxProbes: 200, tolerance: 0.02)))
        _ = reduce(&state, .sensitivity(.hessian(SensitivityFixtures.report(probes: 136, partial: false))))
        _ = reduce(&state, .key(.character("T")))
        _ = reduce(&state, .tradeoff(.sweepPlanned(generation: state.tradeoff.sweepGeneration, hawq: 6, distinct: 343, total: 11)))
        var done = 0
        func add(_ source: TradeoffPoint.Source, _ plan: Plan, _ correct: Int) {
            done += 1
            let point = TradeoffPoint(source: source, evaluation: Fixtures.evaluation(plan, correct: correct))
            _ = reduce(&state, .tradeoff(.sweepPoint(generation: state.tradeoff.sweepGeneration, point, done: done)))
        }
        for (bits, correct) in [(8, 1855), (6, 1848), (4, 1812), (3, 1702), (2, 640)] { add(.uniform, uniform(bits), correct) }
        let mixes: [([Int], Int)] = [
            ([4, 3, 3, 3, 3, 3, 3, 3, 4], 1741), ([4, 4, 3, 3, 3, 4, 3, 3, 6], 1776), ([6, 4, 4, 3, 4, 4, 3, 4, 6], 1797),
            ([6, 4, 4, 4, 4, 4, 4, 4, 6], 1818), ([6, 6, 4, 4, 6, 4, 4, 4, 6], 1836), ([6, 6, 6, 4, 6, 6, 6, 4, 6], 1849),
        ]
        for (bits, correct) in mixes {
            var plan = Fixtures.floatPlan
            for i in plan.choices.indices { plan.choices[i].weights = .int(bits[i]) }
            add(.hawq, plan, correct)
        }
        _ = reduce(&state, .tradeoff(.sweepFinished(generation: state.tradeoff.sweepGeneration, seconds: 4.2)))
        return state
    }

    @Test("Trade-off pane: front, uniform digits, HAWQ, session and current points", arguments: sizes)
    func pane(size: Size) {
        let state = Self.sweptState(size: size)
        assertSnapshot(of: text(state), as: .lines, named: "\(size)")
    }

    @Test("Trade-off pane while the traces run: uniform points only, the HAWQ note")
    func paneBeforeTraces() {
        var state = Fixtures.editedState(size: Size(width: 80, height: 24))
        state = SensitivityFixtures.analysing(state)
        _ = reduce(&state, .key(.character("T")))
        _ = reduce(&state, .tradeoff(.sweepPlanned(generation: 1, hawq: 0, distinct: 0, total: 5)))
        for (i, (bits, correct)) in [(8, 1855), (6, 1848), (4, 1812)].enumerated() {
            let point = TradeoffPoint(source: .uniform, evaluation: Fixtures.evaluation(Self.uniform(bits), correct: correct))
            _ = reduce(&state, .tradeoff(.sweepPoint(generation: 1, point, done: i + 1)))
        }
        assertSnapshot(of: text(state), as: .lines, named: "80x24")
    }

    @Test("Trade-off pane in ASCII")
    func paneASCII() {
        var state = Self.sweptState(size: Size(width: 80, height: 24))
        state.glyphs = .ascii
        let screen = text(state)
        #expect(screen.unicodeScalars.allSatisfy { $0.isASCII })
        assertSnapshot(of: screen, as: .lines, named: "80x24")
    }

    @Test("export dialog", arguments: sizes)
    func exportDialog(size: Size) {
        var state = Fixtures.editedState(size: size)
        _ = reduce(&state, .key(.character("e")))
        _ = reduce(&state, .key(.tab))
        assertSnapshot(of: text(state), as: .lines, named: "\(size)")
    }

    @Test("budget prompt and the allocation's status", arguments: sizes)
    func budget(size: Size) {
        var state = SensitivityFixtures.analysing(Fixtures.editedState(size: size))
        _ = reduce(&state, .key(.character("a")))
        for c in "0.05 MB" { _ = reduce(&state, .key(.character(c))) }
        assertSnapshot(of: text(state), as: .lines, named: "\(size)-prompt")
        _ = reduce(&state, .key(.enter))
        assertSnapshot(of: text(state), as: .lines, named: "\(size)-running")
    }

    @Test("help at 80x24 scrolled to the end")
    func helpScrolled() {
        var state = Fixtures.openedState(size: Size(width: 80, height: 24))
        _ = reduce(&state, .key(.character("?")))
        for _ in 0..<5 { _ = reduce(&state, .key(.pageDown)) }
        assertSnapshot(of: text(state), as: .lines, named: "80x24")
    }
}
