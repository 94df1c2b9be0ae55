import Analysis

/// What a headless command prints: one value that is both the JSON object (`--json`, through
/// `ReportJSON`'s one configuration) and the text lines, so the two always say the same.
protocol CommandReport: Encodable {
    /// The text report, line by line.
    var lines: [String] { get }
}

extension CommandReport {
    /// The report as one line of JSON.
    var json: String { get throws { try ReportJSON.encode(self) } }
}
