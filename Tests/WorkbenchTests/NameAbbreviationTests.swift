import Testing
import Workbench

/// Names cut to a column: paths keep their file name, layer names the parts that tell them apart.
@Suite("name abbreviation")
struct NameAbbreviationTests {
    static let bertNames = (0..<6).flatMap { block in
        ["query", "key", "value"].map { "/encoder/encoder/layer.\(block)/attention/self/\($0)/MatMul" }
            + ["/encoder/encoder/layer.\(block)/intermediate/dense/MatMul", "/encoder/encoder/layer.\(block)/output/dense/MatMul"]
    }

    @Test("truncateHead keeps the end, truncateMiddle both ends; both fit the width exactly")
    func textCuts() {
        #expect(Text.truncateHead("/a/long/path/plan.qscope.json", to: 16) == "…lan.qscope.json")
        #expect(Text.truncateHead("short", to: 16) == "short")
        #expect(Text.truncateMiddle("abcdefghijklmnopqrstuvwxyz", to: 10) == "abcd…vwxyz")
        #expect(Text.truncateMiddle("abc", to: 3) == "abc")
        for width in 0..<30 {
            let head = Text.truncateHead("/encoder/encoder/layer.0/attention", to: width)
            let middle = Text.truncateMiddle("/encoder/encoder/layer.0/attention", to: width)
            #expect(DisplayWidth.of(head) == min(width, 34))
            #expect(DisplayWidth.of(middle) == min(width, 34))
        }
        #expect(DisplayWidth.of(Text.truncateMiddle("層層層層層層層層", to: 7)) <= 7)
    }

    @Test("the segments every layer shares go first, then the middle; all 30 BERT names stay distinct")
    func bertLayersStayDistinct() {
        let abbreviation = LayerNameAbbreviation(names: Self.bertNames)
        #expect(abbreviation.sharedPrefix == "/encoder/encoder")
        #expect(abbreviation.abbreviate("/encoder/encoder/layer.3/attention/self/key/MatMul", to: 60)
            == "/encoder/encoder/layer.3/attention/self/key/MatMul")
        #expect(abbreviation.abbreviate("/encoder/encoder/layer.3/attention/self/key/MatMul", to: 40)
            == "…/layer.3/attention/self/key/MatMul")
        for width in [24, 28, 32] {
            let shown = Self.bertNames.map { abbreviation.abbreviate($0, to: width) }
            #expect(Set(shown).count == Self.bertNames.count, "width \(width): \(shown)")
            #expect(shown.allSatisfy { DisplayWidth.of($0) <= width })
        }
        // Cutting at the end, as before, made the rows of a block identical.
        let cutAtEnd = Self.bertNames.map { Text.truncate($0, to: 28) }
        #expect(Set(cutAtEnd).count < Self.bertNames.count)
    }

    @Test("a last segment that repeats the op goes first: the op column shows it")
    func opSuffix() {
        let abbreviation = LayerNameAbbreviation(names: ["/layer1/conv1/Conv", "/layer1/conv2/Conv"])
        #expect(abbreviation.abbreviate("/layer1/conv1/Conv", opType: "Conv", to: 17) == "/layer1/conv1")
        #expect(abbreviation.abbreviate("/layer1/conv1/Conv", opType: "Conv", to: 18) == "/layer1/conv1/Conv")
        #expect(abbreviation.abbreviate("/layer1/conv1/Conv", opType: "Gemm", to: 17) == "…/conv1/Conv")
        #expect(abbreviation.abbreviate("Conv", opType: "Conv", to: 3) == "C…v")
    }

    @Test("no shared prefix for one name, for names that share none, or when it would leave a name empty")
    func sharedPrefixEdges() {
        #expect(LayerNameAbbreviation(names: ["/a/b/Conv"]).sharedPrefix == "")
        #expect(LayerNameAbbreviation(names: ["/conv1/Conv", "/fc/Gemm"]).sharedPrefix == "")
        #expect(LayerNameAbbreviation(names: ["/m/a", "/m/b"]).sharedPrefix == "/m")
        #expect(LayerNameAbbreviation(names: ["/m/a", "/m/"]).sharedPrefix == "")
        #expect(LayerNameAbbreviation(names: ["conv1_weights", "conv2_expand_weights"]).sharedPrefix == "")
    }
}
