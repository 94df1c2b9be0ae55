import Foundation
import Kernels
import Testing

// Fake-quant throughput in GB/s of FP32 weights read (4 bytes per weight), one and two threads.
// Disabled unless QSCOPE_BENCH=1:
//   QSCOPE_BENCH=1 swift test -c release --skip-build --filter QuantizerBench

private let benchEnabled = ProcessInfo.processInfo.environment["QSCOPE_BENCH"] == "1"

@Suite(.serialized, .enabled(if: benchEnabled)) struct QuantizerBench {
    @Test func fakeQuantThroughput() {
        var rng = TestRNG(seed: 5)
        let rows = 1024, columns = 4096  // 4 Mi weights, 16 MiB
        let w = rng.floats(rows * columns, -0.1, 0.1)
        let cases: [(String, (Int) -> [Float])] = [
            ("int8", { IntegerQuantizer(bits: 8).fakeQuantize(w, rows: rows, columns: columns, threads: $0) }),
            ("int4", { IntegerQuantizer(bits: 4).fakeQuantize(w, rows: rows, columns: columns, threads: $0) }),
            ("int4:asym", { IntegerQuantizer(bits: 4, mapping: .affine).fakeQuantize(w, rows: rows, columns: columns, threads: $0) }),
            ("int4:group=32", { IntegerQuantizer(bits: 4, groupSize: 32).fakeQuantize(w, rows: rows, columns: columns, threads: $0) }),
            ("fp8:e4m3", { FloatQuantizer(format: .e4m3).fakeQuantize(w, rows: rows, columns: columns, threads: $0) }),
            ("fp4:e2m1", { FloatQuantizer(format: .e2m1).fakeQuantize(w, rows: rows, columns: columns, threads: $0) }),
            ("fp4:e2m1:block=32", {
                FloatQuantizer(format: .e2m1, scaling: .sharedExponent(block: 32)).fakeQuantize(w, rows: rows, columns: columns, threads: $0)
            }),
        ]
        for (name, run) in cases {
            var line = "fake-quant \(name):"
            for threads in [1, 2] {
                _ = run(threads)
                var best = Double.infinity
                for _ in 0..<5 {
                    let start = DispatchTime.now().uptimeNanoseconds
                    let out = run(threads)
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
                    #expect(out.count == w.count)
                }
                line += " \(threads) thread(s) \(String(format: "%.2f", Double(w.count * 4) / best / 1e9)) GB/s"
            }
            print(line)
        }
    }
}
