import Executor
import Foundation
import Testing
import Analysis

/// AIMET encodings (1.0.0 and 0.6.1) and ONNX Runtime TensorQuantOverrides: field names, types and
/// values against the plan's own quantizer (scales recomputed here with the Kernels quantizer).
@Suite("AIMET and ORT export")
struct EncodingsExportTests {
    static func json(_ bytes: [UInt8]) throws -> Any { try JSONSerialization.jsonObject(with: Data(bytes)) }

    /// mlp: layer 0 int8 (symmetric, per channel) with int8 activations, layer 1 int4:asym,
    /// layer 2 lut3 (no integer grid: left out).
    static func input() throws -> (ExportInput, Model) {
        let (model, dataset) = try QDQExportTests.load("mlp")
        var plan = Plan(model: model)
        plan.choices[0] = LayerChoice(weights: .int(8), activations: .int(8))
        plan.choices[1] = LayerChoice(weights: try QuantizerSpec(parsing: "int4:asym"), activations: try QuantizerSpec(parsing: "int8:asym"))
        plan.choices[2] = LayerChoice(weights: try QuantizerSpec(parsing: "lut3"))
        return (try ExportInput(model: model, plan: plan, calibration: dataset.prefix(512)), model)
    }

    @Test("AIMET 1.0.0: lists of name / dtype / enc_type / bw / is_sym / scale / offset")
    func aimet100() throws {
        let (input, model) = try Self.input()
        let (bytes, notes) = try AIMETEncodings.export(input, version: .v1_0_0)
        let root = try Self.json(bytes) as! [String: Any]
        #expect(root["version"] as? String == "1.0.0")
        let params = root["param_encodings"] as! [[String: Any]]
        #expect(params.count == 2, "lut3 layer left out")
        #expect(notes.contains { $0.contains(model.layers[2].name) })
        let first = params.first { $0["name"] as? String == input.weightName(0) }!
        #expect(first["dtype"] as? String == "INT" && first["enc_type"] as? String == "PER_CHANNEL")
        #expect(first["bw"] as? Int == 8 && first["is_sym"] as? Bool == true)
        // Gemm transB=1: one scale per output row, max|w| / 127.
        let weight = model.graph.constants[model.layers[0].weight]!
        let rows = model.layers[0].weightShape[0], columns = weight.count / rows
        let scales = (first["scale"] as! [Double]).map { Float($0) }
        #expect(scales.count == rows)
        for r in 0..<rows {
            let amax = weight.values[(r * columns)..<((r + 1) * columns)].map(abs).max()!
            #expect(scales[r] == amax / 127, "row \(r)")
        }
        #expect((first["offset"] as! [Int]).allSatisfy { $0 == -128 })
        let second = params.first { $0["name"] as? String == input.weightName(1) }!
        #expect(second["bw"] as? Int == 4 && second["is_sym"] as? Bool == false)
        #expect((second["offset"] as! [Int]).allSatisfy { (-15...0).contains($0) }, "affine: offset = −zero point")
        let activations = root["activation_encodings"] as! [[String: Any]]
        #expect(activations.count == 2)
        let act0 = activations.first { $0["name"] as? String == input.inputName(0) }!
        #expect(act0["enc_type"] as? String == "PER_TENSOR" && (act0["scale"] as! [Double]).count == 1)
        #expect(act0["offset"] as? [Int] == [-128])
        #expect(Float((act0["scale"] as! [Double])[0]) == input.activations[0].calibrated.scale)
    }

    @Test("AIMET 0.6.1: dicts keyed by tensor, string is_symmetric, min/max from scale and offset")
    func aimet061() throws {
        let (input, _) = try Self.input()
        let root = try Self.json(try AIMETEncodings.export(input, version: .v0_6_1).bytes) as! [String: Any]
        #expect(root["version"] as? String == "0.6.1")
        let params = root["param_encodings"] as! [String: [[String: Any]]]
        let entries = params[input.weightName(1)]!
        #expect(entries.count == input.model.layers[1].weightShape[0], "one entry per channel")
        for e in entries {
            #expect(e["is_symmetric"] as? String == "False" && e["dtype"] as? String == "int" && e["bitwidth"] as? Int == 4)
            let scale = e["scale"] as! Double, offset = e["offset"] as! Int
            #expect(abs((e["min"] as! Double) - scale * Double(offset)) <= 1e-12)
            #expect(abs((e["max"] as! Double) - scale * Double(15 + offset)) <= 1e-12)
        }
        #expect((params[input.weightName(0)]!.first!["is_symmetric"] as? String) == "True")
        let args = root["quantizer_args"] as! [String: Any]
        #expect(args["per_channel_quantization"] as? Bool == true)
        #expect((root["activation_encodings"] as! [String: Any]).count == 2)
    }

    @Test("ORT overrides: one dict per channel, axis in the first, QuantType names, zero points")
    func ortOverrides() throws {
        let (input, model) = try Self.input()
        let (bytes, notes) = try ORTOverrides.export(input)
        let root = try Self.json(bytes) as! [String: [[String: Any]]]
        #expect(notes.contains { $0.contains(model.layers[2].name) })
        let w0 = root[input.weightName(0)]!
        #expect(w0.count == model.layers[0].weightShape[0])
        #expect(w0[0]["axis"] as? Int == 0 && w0[1]["axis"] == nil)
        #expect(w0.allSatisfy { $0["quant_type"] as? String == "QInt8" && $0["zero_point"] as? Int == 0 && $0["symmetric"] == nil })
        let w1 = root[input.weightName(1)]!
        #expect(w1.allSatisfy { $0["quant_type"] as? String == "QUInt4" && ($0["zero_point"] as? Int).map { (0...15).contains($0) } == true })
        let a1 = root[input.inputName(1)]!
        #expect(a1.count == 1 && a1[0]["quant_type"] as? String == "QUInt8")
        #expect(a1[0]["zero_point"] as? Int == Int(input.activations[1].calibrated.zeroPoint))
        #expect(root[input.weightName(2)] == nil)
    }

    @Test("layout: two-space pretty printing, keys sorted, slashes unescaped, empty lists opened, a final newline")
    func layout() throws {
        let (input, _) = try Self.input()
        let aimet = String(decoding: try AIMETEncodings.export(input, version: .v1_0_0).bytes, as: UTF8.self)
        #expect(aimet.hasPrefix("""
            {
              "activation_encodings" : [
                {
                  "bw" : 8,
                  "dtype" : "INT",
                  "enc_type" : "PER_TENSOR",
                  "is_sym" : true,
                  "name" : "\(input.inputName(0))",
                  "offset" : [
                    -128
                  ],
                  "scale" : [

            """))
        #expect(aimet.contains("\n  \"excluded_layers\" : [\n\n  ],\n  \"param_encodings\" : [\n"))
        #expect(aimet.hasSuffix("\n}\n") && !aimet.contains("\\/"))
        let ort = String(decoding: try ORTOverrides.export(input).bytes, as: UTF8.self)
        let tensors = ort.split(separator: "\n").filter { $0.hasPrefix("  \"") }.map { $0.dropFirst(3).prefix { $0 != "\"" } }
        #expect(tensors.count == 4 && tensors == tensors.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(ort.hasSuffix("\n  ]\n}\n"))
    }
}
