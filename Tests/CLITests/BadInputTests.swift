import Foundation
import Testing

/// Bad input gives one clear line naming the file and what is wrong, and a non-zero exit status;
/// never a crash, a hang or a trap.
@Suite("bad input")
struct BadInputTests {
    static let bad = "Tests/Fixtures/bad/"
    static let tinyBERT = "Tests/Fixtures/transformers/tiny-bert.onnx"

    /// (arguments, file the message must name, words it must contain)
    static let cases: [([String], String, [String])] = [
        (["eval", "no/such/model.onnx", "--data", "sample-models/fashion-mnist-test-2000.npz"], "no/such/model.onnx", ["no such file"]),
        (["info", "no/such/model.onnx"], "no/such/model.onnx", ["no such file"]),
        (["eval", bad + "truncated.onnx", "--data", "sample-models/fashion-mnist-test-2000.npz"], bad + "truncated.onnx", ["not a valid ONNX model"]),
        (["info", bad + "random.onnx"], bad + "random.onnx", ["not a valid ONNX model"]),
        (["eval", bad + "unsupported_op.onnx", "--data", bad + "wrong_shape.npz"], bad + "unsupported_op.onnx", ["unsupported op Det", "determinant"]),
        (["eval", "sample-models/cnn.onnx", "--data", bad + "wrong_shape.npz"], bad + "wrong_shape.npz", ["shape"]),
        (["eval", "sample-models/mlp.onnx", "--data", bad + "bad_labels.npz"], bad + "bad_labels.npz", ["label 12"]),
        (["eval", "sample-models/mlp.onnx", "--data", bad + "random.npz"], bad + "random.npz", []),
        (["eval", "sample-models/mlp.onnx", "--data", "no/such/data.npz"], "no/such/data.npz", []),
        (["bench", "sample-models/mlp.onnx", "--data", bad + "wrong_shape.npz"], bad + "wrong_shape.npz", ["shape"]),
        // The workbench (the default command) checks its inputs before it takes over the terminal.
        (["no/such/model.onnx"], "no/such/model.onnx", ["no such file"]),
        ([bad + "truncated.onnx", "--data", "sample-models/fashion-mnist-test-2000.npz"], bad + "truncated.onnx", ["not a valid ONNX model"]),
        (["sample-models/mlp.onnx", "--plan", "no/such/plan.qscope.json"], "no/such/plan.qscope.json", ["no such file"]),
        (["sample-models/mlp.onnx", "--plan", "sample-models/manifest.json"], "sample-models/manifest.json", ["not a qscope plan"]),
        (["sample-models/mlp.onnx", "--theme", "no/such.theme"], "no/such.theme", ["cannot read the theme file"]),
        (["sample-models/mlp.onnx", "--theme", "nosuchtheme"], "nosuchtheme", ["no such theme", "dark"]),
        (["eval", "sample-models/mlp.onnx", "--plan", "no/such/plan.qscope.json"], "no/such/plan.qscope.json", ["no such file"]),
        (["analyze", "sample-models/mlp.onnx", "--data", "sample-models/fashion-mnist-test-2000.npz", "--hessian-samples", "99999"],
         "sample-models/fashion-mnist-test-2000.npz", ["--hessian-samples 99999", "larger than the data"]),
        (["analyze", "no/such/model.onnx"], "no/such/model.onnx", ["no such file"]),
        // Transformer data: every model input next to every array present.
        (["eval", tinyBERT, "--data", bad + "tokens_no_mask.npz"], bad + "tokens_no_mask.npz",
         ["no array for the input 'attention_mask'", "the model's inputs: input_ids int64", "the data holds: input_ids int64 [8, 32]"]),
        (["eval", tinyBERT, "--data", bad + "tokens_float_ids.npz"], bad + "tokens_float_ids.npz",
         ["'input_ids' holds float32 values, the input takes int64"]),
        (["analyze", tinyBERT, "--data", bad + "tokens_rank3.npz"], bad + "tokens_rank3.npz",
         ["'input_ids' has rank 3, the input has rank 2"]),
        ([tinyBERT, "--data", bad + "tokens_out_of_range.npz"], bad + "tokens_out_of_range.npz",
         ["input_ids holds 1000 at sample 3, position 7", "which has 1000 rows"]),
        (["eval", bad + "flattened_output.onnx", "--data", bad + "features.npz"], bad + "flattened_output.onnx",
         ["the first output 'logits' has shape [32] for a batch of 8", "first dimension is the sample"]),
        (["eval", bad + "fixed_batch.onnx", "--data", bad + "features.npz"], bad + "fixed_batch.onnx",
         ["cannot reshape", "exported with a fixed batch: input 'input' is [2, 4], this pass has 8 samples", "--batch 2"]),
        (["eval", tinyBERT, "--data", "Tests/Fixtures/transformers/tiny-text.npz", "--metric", "accuracy"], "",
         ["--metric accuracy: accuracy needs labels"]),
        // Detection-head ops given impossible inputs or attributes.
        (["eval", bad + "resize_scales_and_sizes.onnx", "--data", bad + "images.npz"], bad + "resize_scales_and_sizes.onnx",
         ["Resize 'upsample_both': give scales or sizes, not both"]),
        (["eval", bad + "convtranspose_bad_output_shape.onnx", "--data", bad + "images.npz"], bad + "convtranspose_bad_output_shape.onnx",
         ["ConvTranspose 'deconv': output_shape [0, 8] must have 2 positive entries"]),
    ]

    @Test("one line naming the file, non-zero exit", arguments: cases.indices)
    func reportsCleanly(index: Int) throws {
        let (arguments, file, words) = Self.cases[index]
        let result = try QScopeProcess.run(arguments)
        #expect(!result.timedOut, "hung: \(arguments)")
        #expect(!result.crashed, "crashed: \(arguments)\n\(result.stderr)")
        #expect(result.status != 0)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        let line = String(lines.first ?? "")
        #expect(line.hasPrefix(file.isEmpty ? "qscope: " : "qscope: \(file): "), "got: \(line)")
        for word in words { #expect(line.contains(word), "'\(word)' missing from: \(line)") }
        #expect(result.stdout.isEmpty)
    }

    static let externalData = bad + "external/"

    /// (model in `Tests/Fixtures/bad/external/`, words the line must contain besides the tensor and
    /// the external file). Each model's weight `w` references `weights.bin` wrongly in one way.
    static let externalDataCases: [(String, String, [String])] = [
        ("missing_file", "no_such.bin", ["does not exist"]),
        ("past_end", "weights.bin", ["has 48 bytes", "48 bytes at offset 16", "past its end"]),
        ("wrong_length", "weights.bin", ["length 40 bytes", "shape [4, 3] of float32 needs 48"]),
        ("absolute_path", "/tmp/weights.bin", ["absolute path"]),
        ("escapes_folder", "../external/weights.bin", ["leaves the model's folder"]),
        ("negative_offset", "weights.bin", ["offset '-4'", "not a non-negative whole number"]),
        ("non_numeric_length", "weights.bin", ["length '48 bytes'", "not a non-negative whole number"]),
    ]

    @Test("a broken external-data reference: one line naming the model, the tensor and the data file, exit 1",
          arguments: externalDataCases.indices, ["info", "eval"])
    func brokenExternalData(index: Int, command: String) throws {
        let (model, dataFile, words) = Self.externalDataCases[index]
        let path = Self.externalData + model + ".onnx"
        let arguments = command == "info" ? ["info", path] : ["eval", path, "--data", Self.bad + "features.npz"]
        let result = try QScopeProcess.run(arguments)
        #expect(!result.timedOut && !result.crashed, "\(arguments)\n\(result.stderr)")
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        let line = String(lines.first ?? "")
        #expect(line.hasPrefix("qscope: \(path): tensor 'w': external data file '\(dataFile)'"), "got: \(line)")
        for word in words { #expect(line.contains(word), "'\(word)' missing from: \(line)") }
        #expect(result.stdout.isEmpty)
    }

    @Test("a failed --logits write leaves no file behind")
    func noHalfWrittenLogits() throws {
        let target = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-missing-dir-\(getpid())/out.npy").path
        let result = try QScopeProcess.run(["eval", "sample-models/mlp.onnx", "--limit", "8", "--logits", target])
        #expect(result.status != 0)
        #expect(!result.crashed)
        #expect(!FileManager.default.fileExists(atPath: target))
    }
}

@Suite("commands")
struct CommandTests {
    @Test("eval --json on the default model prints one object with the documented keys")
    func evalJSON() throws {
        let result = try QScopeProcess.run(["eval", "--json", "--limit", "300", "--batch", "64"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(object?["samples"] as? Int == 300)
        let accuracy = object?["accuracy"] as? Double ?? -1
        let correct = object?["correct"] as? Int ?? -1
        #expect(abs(accuracy - Double(correct) / 300) < 1e-12)
        #expect(accuracy > 0.8)
        #expect((object?["images_per_second"] as? Double ?? 0) > 0)
        #expect((object?["ci95_low"] as? Double ?? 1) < accuracy && accuracy < (object?["ci95_high"] as? Double ?? 0))
    }

    @Test("without a terminal the workbench refuses with one line instead of drawing")
    func workbenchNeedsTerminal() throws {
        let result = try QScopeProcess.run(["sample-models/mlp.onnx"])
        #expect(result.status == 1)
        #expect(!result.crashed && !result.timedOut)
        #expect(result.stderr == "qscope: the workbench needs a terminal; for headless runs use 'qscope eval' (with --plan)\n")
        #expect(result.stdout.isEmpty)
    }

    @Test("a broken theme file is reported with its file and line")
    func brokenTheme() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-broken-\(getpid()).theme").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("[palette]\nfg = \"#c8ccd4\"\n[roles]\ntext = \"fg\"\naccent = \"blu bold\"\n".utf8).write(to: URL(fileURLWithPath: path))
        let result = try QScopeProcess.run(["sample-models/mlp.onnx", "--theme", path])
        #expect(result.status == 1)
        #expect(result.stderr == "qscope: \(path): line 5: unknown palette colour 'blu'\n")
    }

    @Test("info lists the quantizable layers with parameters and MACs")
    func infoJSON() throws {
        let result = try QScopeProcess.run(["info", "sample-models/mlp.onnx", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let layers = object?["layers"] as? [[String: Any]] ?? []
        #expect(layers.count == 3)
        #expect(layers.map { $0["parameters"] as? Int ?? 0 } == [784 * 256, 256 * 128, 128 * 10])
        #expect(layers.map { $0["macs_per_sample"] as? Int ?? 0 } == [784 * 256, 256 * 128, 128 * 10])
        #expect(layers.allSatisfy { $0["op"] as? String == "Gemm" })
    }

    @Test("eval --logits writes a float32 .npy of shape [N, classes]")
    func logitsFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("qscope-logits-\(getpid()).npy").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try QScopeProcess.run(["eval", "sample-models/mlp.onnx", "--limit", "37", "--logits", path])
        #expect(result.status == 0, "\(result.stderr)")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let header = String(decoding: data.prefix(128), as: UTF8.self)
        #expect(header.contains("'descr': '<f4'"))
        #expect(header.contains("'shape': (37, 10)"))
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect(data.count == 10 + headerLength + 37 * 10 * 4)
    }
}
