import Benchmark
import Kernels

/// Fake-quantization throughput on a 1024 x 4096 weight matrix (4 Mi weights, 16 MiB) uniform in
/// ±0.1, one scale (or block) per row as the quantizer defines: MB/s of FP32 weights read, one and
/// two threads. Each call returns a new array, as `QuantizerSpec.quantize` does in the workbench.
func registerFakeQuantBenchmarks() {
    let rows = 1024, columns = 4096
    let quantizers: [(String, @Sendable ([Float], Int) -> [Float])] = [
        ("int8", { IntegerQuantizer(bits: 8).fakeQuantize($0, rows: rows, columns: columns, threads: $1) }),
        ("int4", { IntegerQuantizer(bits: 4).fakeQuantize($0, rows: rows, columns: columns, threads: $1) }),
        ("int4:asym", { IntegerQuantizer(bits: 4, mapping: .affine).fakeQuantize($0, rows: rows, columns: columns, threads: $1) }),
        ("int4:group=32", { IntegerQuantizer(bits: 4, groupSize: 32).fakeQuantize($0, rows: rows, columns: columns, threads: $1) }),
        ("fp8:e4m3", { FloatQuantizer(format: .e4m3).fakeQuantize($0, rows: rows, columns: columns, threads: $1) }),
        ("fp4:e2m1", { FloatQuantizer(format: .e2m1).fakeQuantize($0, rows: rows, columns: columns, threads: $1) }),
        ("fp4:e2m1:block=32", {
            FloatQuantizer(format: .e2m1, scaling: .sharedExponent(block: 32)).fakeQuantize($0, rows: rows, columns: columns, threads: $1)
        }),
    ]
    for (name, fakeQuantize) in quantizers {
        for threads in [1, 2] {
            Benchmark("fake-quant \(name) \(threads)T", configuration: .kernel([megabytesPerSecond], warmup: 1, maxIterations: 100)) { (benchmark: Benchmark, weights: [Float]) in
                var result: [Float] = []
                timed(benchmark, bytes: Double(weights.count * MemoryLayout<Float>.size)) {
                    result = fakeQuantize(weights, threads)
                }
                precondition(result.count == weights.count, "\(name): \(result.count) values for \(weights.count) weights")
                blackHole(result)
            } setup: {
                var rng = BenchmarkRNG(seed: 5)
                return rng.floats(rows * columns, -0.1, 0.1)
            }
        }
    }
}
