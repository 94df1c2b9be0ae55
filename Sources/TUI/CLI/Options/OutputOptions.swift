import ArgumentParser

/// `--json`: every command prints either its text report or the same report as one JSON object.
package struct OutputOptions: ParsableArguments {
    package init() {}

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    /// Prints `report`: one line of JSON with `--json`, its text lines otherwise.
    func print(_ report: some CommandReport) throws {
        if json {
            Swift.print(try report.json)
        } else {
            for line in report.lines { Swift.print(line) }
        }
    }
}
