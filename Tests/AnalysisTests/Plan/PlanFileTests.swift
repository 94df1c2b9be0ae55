import Executor
import Foundation
import Testing
import Analysis

@Suite("plan files")
struct PlanFileTests {
    static let names = ["/stem/Conv", "/body/\"quoted\"/MatMul", "/fc/Gemm"]

    func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("qscope-plan-\(getpid())-\(name)").path
    }

    @Test("save then load gives the same plan; the file is human-readable JSON in model order")
    func roundTrip() throws {
        var plan = Plan(layerNames: Self.names)
        plan.choices[0].weights = .int(4)
        plan.choices[1].weights = try QuantizerSpec(parsing: "int8:asym")
        let path = temporaryPath("roundtrip.qscope.json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try PlanFile.save(plan, modelPath: "m.onnx", to: path)
        #expect(try PlanFile.load(path: path, layerNames: Self.names).plan == plan)
        let provenance = PlanProvenance(modelPath: "m.onnx", modelSHA256: "ba78", qscopeVersion: "0.3.0",
                                        created: "2026-12-07T23:00:00Z")
        let text = PlanFile.encode(plan, provenance: provenance)
        #expect(text == """
            {
              "format": "qscope-plan",
              "version": 1,
              "model": "m.onnx",
              "model_sha256": "ba78",
              "qscope_version": "0.3.0",
              "created": "2026-12-07T23:00:00Z",
              "layers": {
                "/stem/Conv": { "weights": "int4" },
                "/body/\\"quoted\\"/MatMul": { "weights": "int8:asym" },
                "/fc/Gemm": { "weights": "float" }
              }
            }

            """)
    }

    @Test("reserved fields (activations, split) round-trip and are written only when set")
    func reservedFields() throws {
        var plan = Plan(layerNames: Self.names)
        plan.choices[2] = LayerChoice(weights: .int(6), activations: .int(8), split: 3)
        let text = PlanFile.encode(plan, provenance: PlanProvenance())
        #expect(text.contains("{ \"weights\": \"int6\", \"activations\": \"int8\", \"split\": 3 }"))
        #expect(!text.contains("\"model\""))
        #expect(text.components(separatedBy: "activations").count == 2)
        #expect(try PlanFile.decode(Data(text.utf8), file: "p", layerNames: Self.names) == plan)
    }

    @Test("layers not listed stay float")
    func missingLayersAreFloat() throws {
        let json = #"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"weights": "int2"}}}"#
        let plan = try PlanFile.decode(Data(json.utf8), file: "p", layerNames: Self.names)
        #expect(plan.choices.map(\.weights) == [nil, nil, .int(2)])
    }

    @Test("bad plans fail with one line naming the file", arguments: [
        (#"{"format": "qscope-plan", "version": 2, "layers": {}}"#, "plan version 2 is not supported"),
        (#"{"format": "qscope-plan", "layers": {}}"#, "has no integer \"version\""),
        (#"{"format": "other", "version": 1, "layers": {}}"#, "is not a qscope plan"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/nope": {"weights": "int4"}}}"#, "unknown layer '/nope'"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"weights": "int99"}}}"#, "layer '/fc/Gemm': bad quantizer spec 'int99'"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"weights": 4}}}"#, "weights must be a string"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"bits": 4}}}"#, "unknown field 'bits'"),
        (#"{"format": "qscope-plan", "version": 1}"#, "has no \"layers\" object"),
        (#"[1, 2]"#, "is not a JSON object"),
        (#""a plan""#, "is not a JSON object"),
        (#"{"format": "#, "is not valid JSON"),
        (#""#, "is not valid JSON"),
        (#"{"format": "qscope-plan", "version": "1", "layers": {}}"#, "has no integer \"version\""),
        (#"{"format": "qscope-plan", "version": 1, "layers": []}"#, "has no \"layers\" object"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": "int4"}}"#, "layer '/fc/Gemm': expected an object"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"weights": null}}}"#, "layer '/fc/Gemm': weights must be a string"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"activations": "int99"}}}"#,
         "layer '/fc/Gemm': bad quantizer spec 'int99'"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"split": 1}}}"#, "layer '/fc/Gemm': split must be an integer of at least 2"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"split": "2"}}}"#, "layer '/fc/Gemm': split must be an integer"),
        // Layers are checked in name order, each name before its entry: '/a' sorts before '/fc/Gemm'.
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"weights": 4}, "/a": {}}}"#, "unknown layer '/a'"),
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"weights": 4}, "/zz": {}}}"#, "layer '/fc/Gemm': weights must be a string"),
        // Several unknown fields: the first in name order, whatever the file's order.
        (#"{"format": "qscope-plan", "version": 1, "layers": {"/fc/Gemm": {"zeta": 1, "bits": 4}}}"#, "unknown field 'bits'"),
    ])
    func badPlans(json: String, expected: String) {
        #expect {
            _ = try PlanFile.decode(Data(json.utf8), file: "dir/bad.qscope.json", layerNames: Self.names)
        } throws: { error in
            guard let error = error as? QScopeError else { return false }
            return error.file == "dir/bad.qscope.json" && error.message.contains(expected) && !error.description.contains("\n")
        }
    }

    @Test("a missing file and an unwritable path are reported with the path; nothing half-written")
    func fileErrors() throws {
        #expect(throws: QScopeError(file: "no/such/plan.json", "no such file")) {
            _ = try PlanFile.load(path: "no/such/plan.json", layerNames: Self.names)
        }
        let target = temporaryPath("missing-dir") + "/plan.qscope.json"
        #expect { try PlanFile.save(Plan(layerNames: Self.names), modelPath: nil, to: target) } throws: { error in
            (error as? QScopeError)?.file == target
        }
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test("default path: <model>.qscope.json beside the model")
    func defaultPath() {
        #expect(PlanFile.defaultPath(forModel: "sample-models/cnn.onnx") == "sample-models/cnn.qscope.json")
        #expect(PlanFile.defaultPath(forModel: "model") == "model.qscope.json")
    }

    @Test("the +/- ladder: 2 3 4 5 6 8 16 float")
    func ladder() {
        var spec: QuantizerSpec? = nil
        var seen: [String] = []
        for _ in 0..<8 {
            spec = WeightBitsLadder.down(spec)
            seen.append(WeightBitsLadder.label(spec))
        }
        #expect(seen == ["int16", "int8", "int6", "int5", "int4", "int3", "int2", "int2"])
        #expect(WeightBitsLadder.up(.int(16)) == nil)
        #expect(WeightBitsLadder.up(nil) == nil)
        #expect(WeightBitsLadder.up(.int(6)) == .int(8))
    }

    /// `+`/`-` keep the family and its options: only the code width moves.
    @Test("the ladder keeps the quantizer family and its options", arguments: [
        ("int2:clip=mse", "int3:clip=mse", "int2:clip=mse"),
        ("int4:asym:group=64", "int5:asym:group=64", "int3:asym:group=64"),
        ("int8:hawq:tensor", "int16:hawq:tensor", "int6:hawq:tensor"),
        ("lut4", "lut5", "lut3"),
        ("lut8:sparse=0.5", "float", "lut6:sparse=0.5"),
        ("split3:int2", "split3:int3", "split3:int2"),
        ("split3:lut4", "split3:lut5", "split3:lut3"),
        ("fp8", "float", "fp6:e3m2"),
        ("fp8:e5m2:block=32", "float", "fp6:e3m2:block=32"),
        ("fp6:e2m3:clip=mse", "fp8:e4m3:clip=mse", "fp4:e2m1:clip=mse"),
        ("fp4:tensor", "fp6:e3m2:tensor", "fp4:e2m1:tensor"),
        ("pow4:a=0.5", "pow5:a=0.5", "pow3:a=0.5"),
        ("pot6", "float", "pot5"),
        ("pot2:tensor", "pot3:tensor", "pot2:tensor"),
    ])
    func ladderKeepsFamily(start: String, up: String, down: String) throws {
        let spec = try QuantizerSpec(parsing: start)
        #expect(WeightBitsLadder.label(WeightBitsLadder.up(spec)) == WeightBitsLadder.label(up == "float" ? nil : try QuantizerSpec(parsing: up)))
        #expect(WeightBitsLadder.down(spec) == (try QuantizerSpec(parsing: down)))
    }

    @Test("a lut walks its whole ladder down and back up without leaving the family")
    func lutRoundTrip() throws {
        var spec: QuantizerSpec? = try QuantizerSpec(parsing: "lut8:sparse=1")
        var seen: [String] = []
        for _ in 0..<6 {
            spec = WeightBitsLadder.down(spec)
            seen.append(WeightBitsLadder.label(spec))
        }
        for _ in 0..<6 {
            spec = WeightBitsLadder.up(spec)
            seen.append(WeightBitsLadder.label(spec))
        }
        #expect(seen == ["lut6:sparse=1.0", "lut5:sparse=1.0", "lut4:sparse=1.0", "lut3:sparse=1.0", "lut2:sparse=1.0",
                         "lut2:sparse=1.0", "lut3:sparse=1.0", "lut4:sparse=1.0", "lut5:sparse=1.0", "lut6:sparse=1.0",
                         "lut8:sparse=1.0", "float"])
    }

    @Test("firstDifference finds the first changed layer")
    func firstDifference() {
        let a = Plan(layerNames: Self.names)
        var b = a
        #expect(b.firstDifference(from: a) == nil)
        b.choices[1].weights = .int(4)
        b.choices[2].weights = .int(4)
        #expect(b.firstDifference(from: a) == 1)
        #expect(Plan(layerNames: ["x"]).firstDifference(from: a) == 0)
    }
}
