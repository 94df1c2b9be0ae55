import Analysis
import Executor
import Foundation
import Kernels
import Testing

/// Our quantizers against independent references (PyTorch, ONNX Runtime, ml_dtypes, NumPy).
@Suite("quantizers vs references")
struct QuantizerReferenceTests {
    @Test("intB per channel: bit-exact vs ONNX Runtime Q/DQ; vs torch fake-quant (x·(1/s)) at most one step apart")
    func integerGrids() throws {
        let cases = try QuantFixtures.load("int_grids.json")["cases"] as! [[String: Any]]
        #expect(cases.count == 5)
        var torchMismatches = 0
        for c in cases {
            let spec = try QuantizerSpec(parsing: c["spec"] as! String)
            let integerFamily: (bits: Int, mapping: IntegerQuantizer.Mapping)? =
                if case .integer(let bits, let mapping, _, _) = spec.family { (bits, mapping) } else { nil }
            let (bits, mapping) = try #require(integerFamily, "\(spec) is not an integer spec")
            let rows = c["rows"] as! Int, columns = c["columns"] as! Int
            let w = QuantFixtures.floats(c["weights"])
            let q = IntegerQuantizer(bits: bits, mapping: mapping)
            let encoded = q.quantize(w, rows: rows, columns: columns)
            #expect(QuantFixtures.mismatches(encoded.scales, QuantFixtures.floats(c["scales"])).isEmpty, "\(spec) scales")
            if let zeros = c["zero_points"] { #expect(encoded.zeroPoints.map(Int.init) == QuantFixtures.ints(zeros)) }
            let ours = q.dequantize(encoded)
            if let ort = c["onnxruntime"] {
                let diff = QuantFixtures.mismatches(ours, QuantFixtures.floats(ort))
                #expect(diff.isEmpty, "\(spec) vs ONNX Runtime: \(diff.count) differ")
            }
            // torch multiplies by the reciprocal scale, which can move a value across a rounding
            // boundary: such elements must differ by exactly one step.
            let torch = QuantFixtures.floats(c["torch"])
            for i in QuantFixtures.mismatches(ours, torch) {
                torchMismatches += 1
                let step = encoded.scales[i / columns]
                #expect(abs(abs(ours[i] - torch[i]) - step) <= step * 1e-5, "\(spec)[\(i)] \(ours[i]) vs \(torch[i])")
            }
            // The same through the layer-level API.
            let layer = try spec.quantize(weight: Tensor(shape: [rows, columns], values: w), outputAxis: 0)
            #expect(layer.values == ours)
        }
        #expect(torchMismatches <= 3, "\(torchMismatches) elements differ from torch by one step")
    }

    @Test("FP formats: grids and round-to-nearest-even casts bit-exact vs ml_dtypes; per-channel and MX blocks")
    func floatFormats() throws {
        let formats = try QuantFixtures.load("fp_grids.json")["formats"] as! [[String: Any]]
        #expect(formats.count == 5)
        for f in formats {
            let name = f["format"] as! String
            let format = try #require(FloatFormat.all.first { $0.description == name })
            #expect(Double(format.maxValue) == f["max"] as! Double)
            let grid = QuantFixtures.floats(f["grid"]).filter { $0 >= 0 }
            #expect(format.nonNegativeValues == grid, "\(name) grid")
            let inputs = QuantFixtures.floats(f["inputs"])
            let diff = QuantFixtures.mismatches(inputs.map(format.round), QuantFixtures.floats(f["ml_dtypes"]))
            #expect(diff.isEmpty, "\(name): \(diff.count) of \(inputs.count) casts differ, first input \(diff.first.map { inputs[$0] } ?? 0)")
            // Beyond the max a quantizer saturates (ml_dtypes gives NaN/Inf for E4M3/E5M2 and
            // saturates for the MX formats); NaN stays NaN (ml_dtypes gives -0 for the MX formats,
            // which have no NaN code: we keep NaN visible instead of silently zeroing it).
            for x in QuantFixtures.floats(f["beyond"]) {
                let r = format.round(x)
                if x.isNaN { #expect(r.isNaN) } else { #expect(r == (x < 0 ? -format.maxValue : format.maxValue)) }
            }
            let matrix = QuantFixtures.floats(f["matrix"])
            let perChannel = FloatQuantizer(format: format).fakeQuantize(matrix, rows: 4, columns: 64)
            #expect(QuantFixtures.mismatches(perChannel, QuantFixtures.floats(f["per_channel"])).isEmpty, "\(name) per channel")
            let mx = FloatQuantizer(format: format, scaling: .sharedExponent(block: 32)).fakeQuantize(matrix, rows: 4, columns: 64)
            #expect(QuantFixtures.mismatches(mx, QuantFixtures.floats(f["mx_block32"])).isEmpty, "\(name) MX block 32")
        }
    }

    @Test("k-means: same centroids, assignments and iteration count as a NumPy Lloyd run (centroids within 1e-12)")
    func kmeans() throws {
        let cases = try QuantFixtures.load("kmeans.json")["cases"] as! [[String: Any]]
        #expect(cases.count == 4)
        for c in cases {
            let values = QuantFixtures.floats(c["values"])
            let weights = c["weights"].map(QuantFixtures.floats)
            let result = values.withUnsafeBufferPointer { v in
                if let weights { return weights.withUnsafeBufferPointer { KMeans1D(clusters: c["k"] as! Int).fit(v, weights: $0) } }
                return KMeans1D(clusters: c["k"] as! Int).fit(v)
            }
            let want = QuantFixtures.doubles(c["centroids"])
            for (a, b) in zip(result.centroids, want) { #expect(abs(a - b) <= 1e-12 * max(abs(b), 1e-3)) }
            #expect(result.assignments.map(Int.init) == QuantFixtures.ints(c["assignments"]))
            #expect(result.iterations == c["iterations"] as! Int)
        }
    }

    @Test("3-way split: optimal 1-D 3-means equals a brute-force NumPy search (centres within 1e-12), same parts")
    func split() throws {
        let cases = try QuantFixtures.load("split.json")["cases"] as! [[String: Any]]
        #expect(cases.count == 3)
        for c in cases {
            let values = QuantFixtures.floats(c["values"])
            let split = values.withUnsafeBufferPointer { ThreeWaySplit(values: $0) }
            let want = QuantFixtures.doubles(c["centers"])
            let got = [split.centers.0, split.centers.1, split.centers.2]
            for (a, b) in zip(got, want) { #expect(abs(a - b) <= 1e-12) }
            #expect(values.map(split.part(of:)) == QuantFixtures.ints(c["parts"]))
        }
    }
}
