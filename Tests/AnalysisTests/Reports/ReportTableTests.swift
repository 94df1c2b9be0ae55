import Analysis
import Testing

@Suite struct ReportTableTests {
    @Test func fittedColumnsWithRuleAndRightAlignedNumbers() {
        var table = ReportTable(headers: ["layer", "op", "params"], alignRight: [2])
        table.append(["conv1", "Conv", "288"])
        table.append(["fc", "Gemm", "12544"])
        #expect(table.render() == [
            "layer  op    params",
            "-----  ----  ------",
            "conv1  Conv     288",
            "fc     Gemm   12544",
        ])
    }

    @Test func fixedWidthsOverflowWithoutMovingOtherRows() {
        var table = ReportTable(columns: [.init("layer", width: .fixed(5)), .init("x", .right, width: .fixed(4), gap: 0)])
        table.append(["a", "12345"])
        table.append(["b", "1"])
        // "12345" overflows its 4 columns; the next row keeps the column at 4.
        #expect(table.render() == ["layer   x", "a    12345", "b       1"])
    }

    @Test func noTrailingSpacesAndMissingCellsAreEmpty() {
        var table = ReportTable(columns: [.init(), .init()], showsHeader: false)
        table.append(["name", "int4  Ω 1.000e-03"])
        table.append(["longer name"])
        #expect(table.render() == ["name         int4  Ω 1.000e-03", "longer name"])
    }

    @Test func widthsCountUnicodeScalars() {
        var table = ReportTable(columns: [.init("Δ pts", .right)])
        table.append(["+1.00"])
        #expect(table.render() == ["Δ pts", "+1.00"])
    }
}
