import Analysis
import Executor
import Foundation
import Testing

/// Where a plan came from: paths relative to the plan's folder, file hashes, and what opening the
/// plan against another model says.
@Suite("plan provenance")
struct PlanProvenanceTests {
    static let names = ["/stem/Conv", "/body/MatMul", "/fc/Gemm"]

    /// A fresh folder with `model/m.onnx` ("abc") and `data/d.npz` ("") in it, and `plans/` for plans.
    func workspace() throws -> String {
        let root = NSTemporaryDirectory() + "qscope-provenance-\(UUID().uuidString)"
        for folder in ["model", "data", "plans"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        try Data("abc".utf8).write(to: URL(fileURLWithPath: root + "/model/m.onnx"))
        try Data().write(to: URL(fileURLWithPath: root + "/data/d.npz"))
        return root
    }

    @Test("SHA-256 of the FIPS 180-4 examples, across block boundaries")
    func sha256() {
        func digest(_ bytes: [UInt8], pieces: Int = 1) -> String {
            var hasher = SHA256()
            let step = max(1, bytes.count / pieces)
            var start = 0
            while start < bytes.count {
                hasher.update(Array(bytes[start..<min(bytes.count, start + step)]))
                start += step
            }
            return hasher.hexDigest()
        }
        #expect(digest([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(digest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let two = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        for pieces in [1, 3, 56] {
            #expect(digest(two, pieces: pieces) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        }
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        #expect(digest(million, pieces: 7) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("relative paths between folders")
    func relativePaths() {
        #expect(PlanProvenance.relative("/a/m/x.onnx", from: "/a/p") == "../m/x.onnx")
        #expect(PlanProvenance.relative("/a/p/x.onnx", from: "/a/p") == "x.onnx")
        #expect(PlanProvenance.relative("/a/p/q/x.onnx", from: "/a/p") == "q/x.onnx")
        #expect(PlanProvenance.relative("/b/x.onnx", from: "/a/p") == "../../b/x.onnx")
    }

    @Test("a saved plan records its model and data relative to itself, with their hashes, and reopens from anywhere")
    func recordsAndResolves() throws {
        let root = try workspace()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let planPath = root + "/plans/p.qscope.json"
        var plan = Plan(layerNames: Self.names)
        plan.choices[0].weights = .int(4)
        try PlanFile.save(plan, modelPath: root + "/model/m.onnx", dataPath: root + "/data/d.npz", to: planPath)
        let text = try String(contentsOfFile: planPath, encoding: .utf8)
        #expect(text.contains("\"model\": \"../model/m.onnx\""))
        #expect(text.contains("\"model_sha256\": \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""))
        #expect(text.contains("\"data\": \"../data/d.npz\""))
        #expect(text.contains("\"data_sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""))
        #expect(text.contains("\"qscope_version\": \"\(QScopeVersion.current)\""))
        #expect(text.range(of: #""created": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ""#, options: .regularExpression) != nil)
        // Resolved against the plan's folder, whatever the working directory is.
        let provenance = try PlanFile.provenance(path: planPath)
        #expect(provenance.modelPath == root + "/model/m.onnx")
        #expect(provenance.dataPath == root + "/data/d.npz")
        let loaded = try PlanFile.load(path: planPath, layerNames: Self.names, modelPath: root + "/model/m.onnx")
        #expect(loaded.plan == plan)
        #expect(loaded.warning == nil)
        #expect(loaded.unknownLayers.isEmpty)
    }

    @Test("another model file under the same layer names: a warning naming both hashes")
    func otherModelWarns() throws {
        let root = try workspace()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let planPath = root + "/plans/p.qscope.json"
        try PlanFile.save(Plan(layerNames: Self.names), modelPath: root + "/model/m.onnx", to: planPath)
        try Data("abd".utf8).write(to: URL(fileURLWithPath: root + "/model/m.onnx"))
        let loaded = try PlanFile.load(path: planPath, layerNames: Self.names, modelPath: root + "/model/m.onnx")
        let warning = try #require(loaded.warning)
        #expect(warning.contains("SHA-256 ba7816bf8f01"))
        #expect(!warning.contains("\n"))
    }

    @Test("layers the model lacks: skipped with a warning naming them; none matching: an error")
    func layerMismatch() throws {
        let root = try workspace()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let planPath = root + "/plans/p.qscope.json"
        var plan = Plan(layerNames: Self.names + ["/old/Gemm"])
        plan.choices[0].weights = .int(4)
        plan.choices[3].weights = .int(2)
        try PlanFile.save(plan, modelPath: nil, to: planPath)
        let loaded = try PlanFile.load(path: planPath, layerNames: Self.names)
        #expect(loaded.unknownLayers == ["/old/Gemm"])
        #expect(loaded.plan.choices[0].weights == .int(4))
        #expect(loaded.warning?.contains("'/old/Gemm'") == true)
        #expect {
            _ = try PlanFile.load(path: planPath, layerNames: ["/a/Conv", "/b/Conv"])
        } throws: { error in
            guard let error = error as? QScopeError else { return false }
            return error.file == planPath && error.message.contains("none of the plan's 4 layers is in the model")
        }
    }

    @Test("a plan without provenance (hand-written, or from an earlier version) still opens")
    func noProvenance() throws {
        let json = #"{ "format": "qscope-plan", "version": 1, "layers": { "/fc/Gemm": { "weights": "int8" } } }"#
        let path = NSTemporaryDirectory() + "qscope-bare-\(UUID().uuidString).qscope.json"
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try PlanFile.provenance(path: path) == PlanProvenance())
        let loaded = try PlanFile.load(path: path, layerNames: Self.names, modelPath: "/no/such/model.onnx")
        #expect(loaded.warning == nil)
        #expect(loaded.plan.choices[2].weights == .int(8))
    }

    @Test("names from input files are escaped in error messages: no control sequence reaches the terminal")
    func controlCharactersEscaped() {
        let error = QScopeError(file: "plan\u{1B}[2J.json", "unknown layer '\u{1B}]0;owned\u{07}'")
        #expect(!error.description.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        #expect(error.description.contains("\\u{1B}[2J"))
        #expect(QScopeError.printable("plain/name") == "plain/name")
    }
}
