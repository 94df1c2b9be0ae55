import Benchmark

/// The kernels' throughput: GEMM, convolutions (with the Winograd policies and the fused stem
/// max pool) and the fake quantizers, at the shapes of the sample models. Each benchmark times one
/// call per iteration; its setup makes the inputs (seeded, so every run times the same data).
/// How to run and read them: Benchmarks/README.md.
let benchmarks: @Sendable () -> Void = {
    registerGemmBenchmarks()
    registerConvolutionBenchmarks()
    registerConvMaxPoolBenchmarks()
    registerFakeQuantBenchmarks()
}
