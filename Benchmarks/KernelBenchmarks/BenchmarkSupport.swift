import Benchmark
import Foundation

/// Deterministic inputs: SplitMix64, the generator the kernel tests use, so a benchmark times the
/// same values as the tests that check the kernel.
struct BenchmarkRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` values uniform in [lo, hi).
    mutating func floats(_ count: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
        (0..<count).map { _ in lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24) }
    }
}

/// Arithmetic rate of one call, in millions of floating-point operations per second (a multiply
/// and an add count two). Integer-valued, as every Benchmark metric is: 152345 reads 152.3 GFLOP/s.
let megaflopsPerSecond = BenchmarkMetric.custom("MFLOP/s", polarity: .prefersLarger, useScalingFactor: false)

/// Bytes of FP32 input read per second by one call, in MB/s (10^6 bytes).
let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)

/// CPU time of the calling thread over one call, in microseconds: unlike wall time it does not
/// grow while other processes hold the core, so single-threaded A/B comparisons stay meaningful on
/// a shared machine. Meaningful only for calls with `threads: 1`.
let threadCPUMicroseconds = BenchmarkMetric.custom("thread CPU (us)", polarity: .prefersSmaller, useScalingFactor: false)

/// CPU time the calling thread has used, in seconds.
func threadCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// Monotonic wall time in seconds.
func wallSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) * 1e-9
}

/// Times `body` once by the wall clock and records its rate: `flops` as MFLOP/s, `bytes` as MB/s.
/// Benchmark's own wall-clock metric measures the same call.
@inline(__always)
func timed(_ benchmark: Benchmark, flops: Double = 0, bytes: Double = 0, _ body: () -> Void) {
    let start = wallSeconds()
    body()
    let seconds = max(wallSeconds() - start, 1e-9)
    if flops > 0 { benchmark.measurement(megaflopsPerSecond, Int(flops / seconds / 1e6)) }
    if bytes > 0 { benchmark.measurement(megabytesPerSecond, Int(bytes / seconds / 1e6)) }
}

/// Times `body` once in the calling thread's CPU time and records it (and, given `flops`, the
/// rate in thread CPU time).
@inline(__always)
func threadTimed(_ benchmark: Benchmark, flops: Double = 0, _ body: () -> Void) {
    let start = threadCPUSeconds()
    body()
    let seconds = max(threadCPUSeconds() - start, 1e-9)
    benchmark.measurement(threadCPUMicroseconds, Int((seconds * 1e6).rounded()))
    if flops > 0 { benchmark.measurement(megaflopsPerSecond, Int(flops / seconds / 1e6)) }
}

extension Benchmark.Configuration {
    /// Wall clock plus the given metrics, in microseconds; a few warm-up calls (packing buffers,
    /// page faults, the thread pool starting), then as many calls as fit in a second, at most
    /// `maxIterations`. The percentiles' p0 is the best call.
    static func kernel(_ metrics: [BenchmarkMetric], warmup: Int = 3, maxIterations: Int = 1000) -> Self {
        .init(metrics: [.wallClock] + metrics, timeUnits: .microseconds, warmupIterations: warmup,
              maxDuration: .seconds(1), maxIterations: maxIterations)
    }
}
