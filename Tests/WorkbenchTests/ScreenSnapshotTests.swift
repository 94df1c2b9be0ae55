import Analysis
import Executor
import SnapshotTesting
import Testing
import Workbench

/// Whole screens rendered to text and compared with committed file snapshots
/// (`__Snapshots__/ScreenSnapshotTests/*.txt`). Re-record with `SNAPSHOT_TESTING_RECORD=all`;
/// a missing reference fails the test. The states hold fixed numbers, so nothing depends on timing.
@Suite("screen snapshots", .snapshots(record: .missing))
struct ScreenSnapshotTests {
    static let sizes = [Size(width: 120, height: 40), Size(width: 80, height: 24)]

    func text(_ state: AppState) -> String {
        var buffer = CellBuffer(size: state.size)
        renderScreen(state, into: &buffer)
        return buffer.text
    }

    /// One letter per cell for its role (digits for heat levels / 10): catches styling regressions.
    func roles(_ state: AppState) -> String {
        var buffer = CellBuffer(size: state.size)
        renderScreen(state, into: &buffer)
        let letters: [Role: Character] = [
            .text: ".", .dim: "d", .accent: "A", .good: "g", .bad: "b", .warn: "w", .selection: "S", .header: "H",
            .border: "-", .status: "s", .bar: "|", .grid: "#", .overlay: "o",
        ]
        var lines: [String] = []
        for y in 0..<buffer.size.height {
            var line = ""
            for x in 0..<buffer.size.width {
                let style = buffer[x, y].style
                line.append(style.role == .heat ? Character(String(min(9, Int(style.level) / 10))) : letters[style.role]!)
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    @Test("opened: FP32 evaluated", arguments: sizes)
    func opened(size: Size) {
        assertSnapshot(of: text(Fixtures.openedState(size: size)), as: .lines, named: "\(size)")
    }

    @Test("edited: mixed plan, low-bit layer selected with its grid", arguments: sizes)
    func edited(size: Size) {
        let state = Fixtures.editedState(size: size)
        assertSnapshot(of: text(state), as: .lines, named: "\(size)")
        assertSnapshot(of: roles(state), as: .lines, named: "\(size)-roles")
    }

    @Test("computing: a newer plan is being evaluated (old numbers dimmed, progress shown)", arguments: sizes)
    func computing(size: Size) {
        var state = Fixtures.editedState(size: size)
        _ = reduce(&state, .key(.character("-")))
        _ = reduce(&state, .engine(.started(generation: state.requestedGeneration)))
        _ = reduce(&state, .engine(.progress(generation: state.requestedGeneration, done: 3, total: 8)))
        assertSnapshot(of: text(state), as: .lines, named: "\(size)")
    }

    @Test("help overlay", arguments: sizes)
    func help(size: Size) {
        var state = Fixtures.openedState(size: size)
        _ = reduce(&state, .key(.character("?")))
        assertSnapshot(of: text(state), as: .lines, named: "\(size)")
    }

    @Test("save prompt and unsaved-quit question", arguments: sizes)
    func prompts(size: Size) {
        var state = Fixtures.editedState(size: size)
        _ = reduce(&state, .key(.character("s")))
        assertSnapshot(of: text(state), as: .lines, named: "\(size)-save")
        _ = reduce(&state, .key(.escape))
        _ = reduce(&state, .key(.character("q")))
        assertSnapshot(of: text(state), as: .lines, named: "\(size)-quit")
    }

    @Test("ASCII glyphs for non-UTF-8 locales")
    func ascii() {
        var state = Fixtures.editedState(size: Size(width: 80, height: 24))
        state.glyphs = .ascii
        let screen = text(state)
        #expect(screen.unicodeScalars.allSatisfy { $0.isASCII })
        assertSnapshot(of: screen, as: .lines, named: "80x24")
    }

    @Test("below 60x16 only a notice is shown; no size crashes the renderer")
    func tooSmall() {
        assertSnapshot(of: text(Fixtures.openedState(size: Size(width: 50, height: 12))), as: .lines, named: "50x12")
        for width in [0, 1, 2, 10, 59, 60, 61, 200] {
            for height in [0, 1, 2, 5, 15, 16, 17, 60] {
                var state = Fixtures.editedState(size: Size(width: width, height: height))
                state.overlay = .help
                _ = text(state)
            }
        }
    }

    @Test("a long plan path gives way in the title bar; the unsaved mark [+] stays", arguments: [60, 80, 120])
    func titleKeepsUnsavedMark(width: Int) {
        var state = Fixtures.editedState(size: Size(width: width, height: 24))
        state.planPath = "/home/someone/projects/quantization/experiments/2026-12-07/mobilenet-v3-small-int4-mixed.qscope.json"
        let title = text(state).split(separator: "\n", omittingEmptySubsequences: false)[0]
        #expect(title.contains("[+]"), "\(title)")
        #expect(title.hasSuffix("? help "), "\(title)")
        #expect(title.contains("…"), "\(title)")
        #expect(DisplayWidth.of(String(title)) == width)
        // The plan's file name survives the cut where there is room for it.
        if width >= 120 { #expect(title.contains("mixed.qscope.json"), "\(title)") }
        state.planPath = "p.qscope.json"
        #expect(text(state).split(separator: "\n")[0].contains("plan p.qscope.json [+]"))
    }

    @Test("the hint line keeps the keys only a key reveals, down to 80 columns; help lists the rest")
    func hintLine() {
        for width in [80, 100, 120, 160] {
            let screen = text(Fixtures.openedState(size: Size(width: width, height: 24)))
            let bottom = String(screen.split(separator: "\n", omittingEmptySubsequences: false).last!)
            for hint in ["? help", "q quit", "c compare", "x split", "a allocate", "T trade-off", "e export", "S sort", "t theme"] {
                #expect(bottom.contains(hint), "\(width) columns: \(bottom)")
            }
            #expect(screen.contains("+/- bits"), "\(width) columns")
        }
        let wide = text(Fixtures.openedState(size: Size(width: 160, height: 24)))
        let bottom = String(wide.split(separator: "\n", omittingEmptySubsequences: false).last!)
        for hint in ["u undo", "s save", "o open", "B all"] { #expect(bottom.contains(hint), "\(bottom)") }
    }

    @Test("help explains the columns and the colours")
    func helpLegend() {
        var state = Fixtures.openedState(size: Size(width: 200, height: 90))
        state.overlay = .help
        let screen = text(state)
        for entry in ["Columns", "Colours", "SQNR dB", "predicted loss increase", "Hessian trace", "levels", "SQNR 15–30 dB",
                      "Compare view", "Export dialog", "clear the path"] {
            #expect(screen.contains(entry), "\(entry)")
        }
    }

    @Test("below the minimum size the notice asks the unsaved-changes question when it is open")
    func tooSmallAsksBeforeQuitting() {
        var state = Fixtures.editedState(size: Size(width: 40, height: 12))
        #expect(text(state).contains("q quits"))
        state.overlay = .confirmQuit
        let screen = text(state)
        #expect(screen.contains("unsaved: y quits, any key stays"))
        #expect(!screen.contains("q quits"))
    }
}
