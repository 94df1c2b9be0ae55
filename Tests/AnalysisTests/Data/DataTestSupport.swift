import Executor
import Foundation
import Testing
import Analysis

/// Locating the committed data fixtures (Tests/Fixtures/data, made by tools/make_data_fixtures.py)
/// and checking QScopeError results, shared by the Data tests.
enum DataFixtures {
    /// Tests/Fixtures/data, found by walking up from this source file.
    static let directory: String = {
        var url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while url.path != "/" {
            let candidate = url.appendingPathComponent("Fixtures/data")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            url.deleteLastPathComponent()
        }
        return "Tests/Fixtures/data"
    }()

    /// The path of one fixture file.
    static func path(_ name: String) -> String { directory + "/" + name }

    /// The bytes of one fixture file (empty when missing, which the test's assertions then report).
    static func bytes(_ name: String) -> [UInt8] {
        (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: path(name))))) ?? []
    }

    /// A fresh empty directory for a test to write into.
    static func scratchDirectory() throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-data-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url.path
    }

    /// Debian's dataset-fashion-mnist files (installed by the test script; tests using them are skipped without).
    static let fashionImages = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    static let fashionLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
    static let fashionInstalled = FileManager.default.fileExists(atPath: fashionImages)
        && FileManager.default.fileExists(atPath: fashionLabels)
}

/// Expects `body` to throw a QScopeError that names `file` and whose message contains `fragment`
/// (or equals it exactly when `exact` is true), and a one-line description.
@discardableResult
func expectDataError(
    file: String, _ fragment: String, exact: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> QScopeError? {
    let error = #expect(throws: QScopeError.self, sourceLocation: sourceLocation) { try body() }
    guard let error else { return nil }
    #expect(error.file == file, "error names \(error.file ?? "nil")", sourceLocation: sourceLocation)
    if exact {
        #expect(error.message == fragment, sourceLocation: sourceLocation)
    } else {
        #expect(error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
    }
    #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
    return error
}
