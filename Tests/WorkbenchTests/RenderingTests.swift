import Testing
import Workbench

@Suite("cell buffer and terminal diff")
struct RenderingTests {
    @Test("put clips to the buffer and the width, wide glyphs take two cells or none")
    func putClips() {
        var buffer = CellBuffer(size: Size(width: 6, height: 2))
        #expect(buffer.put("abcdefgh", x: 2, y: 0) == 4)
        #expect(buffer.text == "  abcd\n      ")
        buffer = CellBuffer(size: Size(width: 5, height: 1))
        buffer.put("中文x", x: 0, y: 0)
        #expect(buffer.text == "中文x")
        #expect(buffer[1, 0].isContinuation)
        buffer = CellBuffer(size: Size(width: 3, height: 1))
        buffer.put("a中文", x: 0, y: 0)
        #expect(buffer.text == "a中")
        buffer = CellBuffer(size: Size(width: 2, height: 1))
        buffer.put("a中", x: 0, y: 0)
        #expect(buffer.text == "a ")
        buffer.put("x", x: -1, y: 0)
        buffer.put("x", x: 0, y: 5)
        #expect(buffer.text == "a ")
    }

    @Test("control characters become U+FFFD; combining marks take no column")
    func controlCharacters() {
        var buffer = CellBuffer(size: Size(width: 4, height: 1))
        buffer.put("a\tb", x: 0, y: 0)
        #expect(buffer.text == "a\u{FFFD}b ")
        #expect(DisplayWidth.of("e\u{301}") == 1)
        #expect(DisplayWidth.of("中") == 2)
    }

    @Test("truncate and pad count columns")
    func text() {
        #expect(Text.truncate("abcdef", to: 4) == "abc…")
        #expect(Text.truncate("abc", to: 4) == "abc")
        #expect(Text.truncate("abc", to: 0) == "")
        #expect(Text.pad("ab", to: 4, alignRight: true) == "  ab")
        // 92.845 is stored as 92.84499999999999886..., so correct rounding (printf's) gives 92.84.
        #expect(Text.fixed(92.845, 2) == "92.84")
        #expect(Text.fixed(-0.004, 2) == "0.00")
        #expect(Text.fixed(1.5, 0) == "2")
        #expect(Text.grouped(1234567) == "1,234,567")
    }

    @Test("the terminal sends only changed cells, everything after a size change or invalidate")
    func diff() {
        var terminal = Terminal(backend: MemoryBackend(size: Size(width: 10, height: 3)))
        #expect(terminal.draw { $0.put("hello", x: 0, y: 0) } == 30)
        #expect(terminal.draw { $0.put("hello", x: 0, y: 0) } == 0)
        #expect(terminal.draw { $0.put("hellO", x: 0, y: 0) } == 1)
        #expect(terminal.backend.screen.text.hasPrefix("hellO"))
        terminal.draw { $0.put("hellO", x: 0, y: 0, style: .bad) }
        #expect(terminal.backend.lastChangeCount == 5)
        terminal.invalidate()
        #expect(terminal.draw { $0.put("hellO", x: 0, y: 0, style: .bad) } == 30)
        terminal.backend.size = Size(width: 4, height: 2)
        #expect(terminal.draw { _ in } == 8)
    }

    @Test("layout: panels tile the screen without overlap")
    func layout() {
        for size in [Size(width: 120, height: 40), Size(width: 80, height: 24), Size(width: 60, height: 16)] {
            let layout = ScreenLayout(size: size, layerCount: 25)
            #expect(!layout.isTooSmall)
            #expect(layout.title.maxY == layout.layers.y)
            #expect(layout.layers.maxY == layout.detail.y)
            #expect(layout.detail.maxY == layout.status.y)
            #expect(layout.bottom.maxY == size.height)
            #expect(layout.visibleLayerRows >= 3)
        }
        #expect(ScreenLayout(size: Size(width: 59, height: 30)).isTooSmall)
    }
}
