import Executor
import Foundation
import Testing
import Analysis

/// `qscope eval MODEL --plan P --json` reports what the workbench's engine computes for the same
/// plan and data (the binary is the one `swift build` put next to the test bundle).
@Suite("eval --plan")
struct EvalPlanCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var executable: URL {
        if let override = ProcessInfo.processInfo.environment["QSCOPE_BIN"] { return URL(fileURLWithPath: override) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("qscope")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return root.appendingPathComponent(".build/release/qscope")
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = root
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    @Test("same accuracy, interval and size as the engine", arguments: ["cnn", "vit"])
    func sameAsEngine(_ name: String) async throws {
        let modelPath = "sample-models/\(name).onnx"
        let model = try Model.load(path: Self.root.appendingPathComponent(modelPath).path)
        let dataset = try DatasetLoader.load(path: Self.root.appendingPathComponent("sample-models/fashion-mnist-test-2000.npz").path)
            .fitted(toInput: model.graph.inputs[0].name, dims: model.graph.inputs[0].dims)
        var plan = Plan(model: model)
        for i in plan.choices.indices { plan.choices[i].weights = .int(i % 2 == 0 ? 3 : 2) }
        let planPath = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-evalplan-\(getpid())-\(name).qscope.json").path
        defer { try? FileManager.default.removeItem(atPath: planPath) }
        try PlanFile.save(plan, modelPath: modelPath, to: planPath)

        // The engine path: an evaluator that has first seen other plans (its caches are warm).
        let evaluator = try PlanEvaluator(model: model, dataset: dataset)
        var other = plan
        other.choices[other.count - 1].weights = .int(8)
        _ = try await evaluator.evaluate(other)
        let engine = try await evaluator.evaluate(plan)

        let result = try Self.run(["eval", modelPath, "--plan", planPath, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
        #expect(object["correct"] as? Int == engine.correct)
        #expect(abs((object["accuracy"] as? Double ?? 0) - engine.accuracy) < 1e-12)
        // JSON prints doubles to ~17 digits; the counts above are the exact check.
        #expect(abs((object["ci95_low"] as? Double ?? 0) - engine.interval.lower) < 1e-12)
        #expect(abs((object["fp32_accuracy"] as? Double ?? 0) - (engine.referenceAccuracy ?? 1)) < 1e-12)
        #expect(abs((object["weights_with_metadata_mb"] as? Double ?? 0) - engine.size.totalMB) < 1e-12)
        #expect((engine.correct ?? 0) < (engine.referenceCorrect ?? 0))
    }

    @Test("a bad plan is one line naming the plan file, exit 1")
    func badPlan() throws {
        let planPath = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-badplan-\(getpid()).qscope.json").path
        defer { try? FileManager.default.removeItem(atPath: planPath) }
        try Data(#"{"format": "qscope-plan", "version": 9, "layers": {}}"#.utf8).write(to: URL(fileURLWithPath: planPath))
        let result = try Self.run(["eval", "sample-models/mlp.onnx", "--plan", planPath])
        #expect(result.status == 1)
        #expect(result.stderr == "qscope: \(planPath): plan version 9 is not supported (this qscope reads version 1)\n")
        #expect(result.stdout.isEmpty)
    }
}
