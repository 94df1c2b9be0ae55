import Analysis
import Executor
import Foundation
import Testing
import Workbench

@Suite("themes")
struct ThemeTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("themes").path

    @Test("every shipped theme parses, defines every role and its mono attributes, and has a heat gradient")
    func shipped() throws {
        let catalog = try ThemeCatalog.load(folder: Self.folder)
        #expect(catalog.names == ["dark", "light", "mono"])
        for name in catalog.names {
            let text = try String(contentsOfFile: Self.folder + "/\(name).theme", encoding: .utf8)
            let bare = try ThemeParser.parse(text, file: name, base: Theme(name: "", palette: [:], roles: [:], heatStops: [], mono: [:]))
            for role in Role.allCases { #expect(bare.roles[role] != nil, "\(name) lacks role \(role)") }
            #expect(bare.heatStops.count >= 2)
            #expect(!bare.mono.isEmpty)
        }
    }

    @Test("a broken theme names the file and the line", arguments: [
        ("[palette]\nfg = \"#12345\"\n", "line 2: colour '#12345'"),
        ("[roles]\ntext = \"nosuch\"\n", "line 2: unknown palette colour 'nosuch'"),
        ("# ok\n\n[rolez]\n", "line 3: unknown section [rolez]"),
        ("[roles]\nsparkle = \"fg\"\n", "line 2: unknown role 'sparkle'"),
        ("[roles]\ntext = \"fg blink\"\n", "line 2: unknown attribute 'blink'"),
        ("[palette]\nfg = #ffffff\n", "line 2: value must be a quoted string"),
        ("[gradients]\nheat = [\"fg\"]\n", "line 2: heat needs at least 2 colours"),
        ("[mono]\ntext\n", "line 2: expected 'key = \"value\"'"),
    ])
    func broken(text: String, expected: String) {
        #expect {
            _ = try ThemeParser.parse(text, file: "themes/broken.theme")
        } throws: { error in
            let description = (error as? QScopeError)?.description ?? ""
            return description.hasPrefix("themes/broken.theme: ") && description.contains(expected)
        }
    }

    @Test("an unreadable theme file is a one-line error naming it")
    func missing() {
        #expect(throws: QScopeError(file: "no/such.theme", "cannot read the theme file")) {
            _ = try ThemeParser.load(path: "no/such.theme")
        }
    }

    @Test("a partial theme overrides only what it names; palette entries may come after roles")
    func partial() throws {
        let theme = try ThemeParser.parse("[roles]\nbad = \"hot bold\"\n[palette]\nhot = \"#ff0000\"\n", file: "p.theme")
        #expect(theme.style(.bad) == Theme.RoleStyle(.rgb(255, 0, 0), [.bold]))
        #expect(theme.style(.good) == Theme.builtIn.style(.good))
        #expect(theme.name == "p")
    }

    @Test("colour tiers: NO_COLOR and colourless terminals are mono; COLORS picks the tier")
    func tiers() {
        #expect(ColorTier.detect(hasColors: true, colors: 256, environment: ["NO_COLOR": "1"]) == .mono)
        #expect(ColorTier.detect(hasColors: true, colors: 256, environment: ["NO_COLOR": ""]) == .indexed256)
        #expect(ColorTier.detect(hasColors: false, colors: 0, environment: [:]) == .mono)
        #expect(ColorTier.detect(hasColors: true, colors: 8, environment: [:]) == .ansi8)
        #expect(ColorTier.detect(hasColors: true, colors: 16, environment: [:]) == .ansi16)
        #expect(ColorTier.detect(hasColors: true, colors: 1 << 24, environment: [:]) == .trueColor)
    }

    @Test("RGB maps to the xterm-256 cube and grey ramp, and to ANSI colours")
    func quantize() {
        #expect(ColorQuantizer.index256(255, 0, 0) == 196)
        #expect(ColorQuantizer.index256(0, 0, 0) == 16)
        #expect(ColorQuantizer.index256(128, 128, 128) == 244)
        #expect(ColorQuantizer.indexANSI(250, 40, 40, count: 8) == 1)
        #expect(ColorQuantizer.indexANSI(250, 250, 250, count: 16) == 15)
        #expect(ColorQuantizer.indexANSI(250, 250, 250, count: 8) == 7)
    }

    @Test("the heat gradient interpolates between its stops")
    func heat() {
        var theme = Theme.builtIn
        theme.heatStops = [.rgb(0, 0, 0), .rgb(200, 100, 0)]
        #expect(theme.heatColor(level: 0) == .rgb(0, 0, 0))
        #expect(theme.heatColor(level: 50) == .rgb(100, 50, 0))
        #expect(theme.heatColor(level: 100) == .rgb(200, 100, 0))
    }
}
