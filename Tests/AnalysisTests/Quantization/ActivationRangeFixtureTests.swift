import Executor
import Foundation
import Testing
import Analysis

/// The activation calibration of `--activations int8` against the fixture's: the per-tensor min/max
/// that ONNX Runtime sees on the same first 512 samples of the same FP32-weight model (BatchNorm
/// folded), so that `ModelQuantizationTests`' accuracy comparison compares like with like.
@Suite("activation ranges vs ONNX Runtime")
struct ActivationRangeFixtureTests {
    /// Distance in units in the last place between two finite floats of the same sign (0 when equal).
    static func ulps(_ a: Float, _ b: Float) -> Int {
        if a == b { return 0 }
        func ordered(_ x: Float) -> Int64 {
            let bits = Int64(Int32(bitPattern: x.bitPattern))
            return bits < 0 ? Int64(Int32.min) - bits : bits
        }
        return Int(abs(ordered(a) - ordered(b)))
    }

    @Test("every calibrated layer input's min and max equal ONNX Runtime's within 8 ulps", arguments: ["mlp", "cnn", "vit"])
    func ranges(_ name: String) throws {
        let fixture = try QuantFixtures.load("activation_accuracy.json")
        let entry = (fixture["models"] as! [String: Any])[name] as! [String: Any]
        let ranges = try #require(entry["ranges"] as? [String: Any])
        let model = try Model.load(path: QuantFixtures.path("sample-models/\(name).onnx"))
        let raw = try DatasetLoader.load(path: QuantFixtures.path("sample-models/fashion-mnist-test-2000.npz"))
        let input = try #require(model.graph.inputs.first)
        let dataset = try raw.fitted(toInput: input.name, dims: input.dims)
        let (_, calibrated) = try ActivationQuantization.apply(try ActivationSpec(parsing: "int8"), to: model,
                                                              calibration: dataset.prefix(fixture["calibration"] as! Int))
        #expect(calibrated.count == ranges.count)
        var worst = 0
        for c in calibrated {
            let tensor = model.graph.valueNames[c.input]
            let want = QuantFixtures.floats(try #require(ranges[tensor], "no fixture range for \(tensor)"))
            worst = max(worst, Self.ulps(c.low, want[0]), Self.ulps(c.high, want[1]))
        }
        print("\(name): worst range difference \(worst) ulp over \(calibrated.count) tensors")
        #expect(worst <= 8, "\(name): \(worst) ulp")
    }
}
