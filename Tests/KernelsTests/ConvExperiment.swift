import Foundation
import Kernels
import Testing

// Scratch timing harness for the conv work (QSCOPE_CONVX=1). Not part of the suite.
private let enabled = ProcessInfo.processInfo.environment["QSCOPE_CONVX"] == "1"

private func threadCPU() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

@Suite(.serialized, .enabled(if: enabled)) struct ConvExperiment {
    @Test func shapes() {
        let env = ProcessInfo.processInfo.environment
        let batches = (env["QSCOPE_CONVX_BATCH"] ?? "256,1").split(separator: ",").map { Int($0)! }
        let threadList = (env["QSCOPE_CONVX_THREADS"] ?? "2").split(separator: ",").map { Int($0)! }
        let base: [(String, Conv2DShape)] = [
            ("stem 1->32 28", Conv2DShape(batch: 1, inChannels: 1, inHeight: 28, inWidth: 28, outChannels: 32, kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)),
            ("32->32 14", Conv2DShape(batch: 1, inChannels: 32, inHeight: 14, inWidth: 14, outChannels: 32, kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)),
            ("32->64 s2 14", Conv2DShape(batch: 1, inChannels: 32, inHeight: 14, inWidth: 14, outChannels: 64, kernelH: 3, kernelW: 3, strideH: 2, strideW: 2, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)),
            ("1x1 32->64 s2", Conv2DShape(batch: 1, inChannels: 32, inHeight: 14, inWidth: 14, outChannels: 64, kernelH: 1, kernelW: 1, strideH: 2, strideW: 2)),
            ("64->64 7", Conv2DShape(batch: 1, inChannels: 64, inHeight: 7, inWidth: 7, outChannels: 64, kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)),
            ("32->32 28", Conv2DShape(batch: 1, inChannels: 32, inHeight: 28, inWidth: 28, outChannels: 32, kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)),
            ("64->64 14", Conv2DShape(batch: 1, inChannels: 64, inHeight: 14, inWidth: 14, outChannels: 64, kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)),
        ]
        let only = env["QSCOPE_CONVX_ONLY"]
        var rng = TestRNG(seed: 3)
        for batch in batches {
            for (name, s0) in base where only == nil || name.contains(only!) {
                var s = s0
                s.batch = batch
                let x = rng.floats(s.batch * s.inChannels * s.inHeight * s.inWidth)
                let w = rng.floats(s.outChannels * s.inChannels / s.group * s.kernelH * s.kernelW)
                let bias = rng.floats(s.outChannels)
                var y = [Float](repeating: 0, count: s.batch * s.outChannels * s.outHeight * s.outWidth)
                let flops = 2.0 * Double(y.count) * Double(s.inChannels / s.group * s.kernelH * s.kernelW)
                var line = "convx \(name) N=\(batch):"
                for threads in threadList {
                    var ws = [Float](repeating: 0, count: max(1, conv2dWorkspaceCount(s, threads: threads)))
                    let packed = PackedConvWeights(s, weight: w)
                    for usePacked in [false, true] {
                        ConvolutionOptions.winograd = ["0": .never, "1": .always][env["QSCOPE_CONVX_WINOGRAD"] ?? ""] ?? .auto
                        defer { ConvolutionOptions.winograd = .auto }
                        let inner = max(1, Int(4e8 / flops))
                        var best = Double.infinity
                        for rep in 0..<25 {
                            let t0 = threads == 1 ? threadCPU() : DispatchTime.now().uptimeNanoseconds
                            for _ in 0..<inner {
                                if usePacked {
                                    conv2d(s, input: x, packedWeights: packed, bias: bias, output: &y, relu: true, workspace: &ws, threads: threads)
                                } else {
                                    conv2d(s, input: x, weight: w, bias: bias, output: &y, relu: true, workspace: &ws, threads: threads)
                                }
                            }
                            let t1 = threads == 1 ? threadCPU() : DispatchTime.now().uptimeNanoseconds
                            let t = Double(t1 - t0) * 1e-9 / Double(inner)
                            if rep > 0 { best = min(best, t) }
                        }
                        let unit = batch == 1 ? String(format: "%.1f us", best * 1e6) : String(format: "%.2f ms", best * 1e3)
                        line += " \(threads)T\(usePacked ? "p" : "") \(unit) (\(String(format: "%.0f", flops / best / 1e9)))"
                    }
                }
                print(line)
            }
        }
    }
}

extension ConvExperiment {
    @Test func forkJoin() {
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: 64)
        for count in [2, 14] {
            for work in [0, 1000, 10000] {
                var best = Double.infinity
                for _ in 0..<20 {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    for _ in 0..<100 {
                        Parallel.forEach(count, threads: 2) { i in
                            var acc: Float = 0
                            for j in 0..<work { acc += Float(j & 7) }
                            sink[i] = acc
                        }
                    }
                    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 100)
                }
                print("convx forEach count \(count) work \(work): \(String(format: "%.2f", best / 1000)) us")
            }
        }
    }
}

extension ConvExperiment {
    @Test func tiles() {
        for (p, b) in [(14, 2), (7, 2), (6, 4), (4, 4), (3, 4), (9, 3), (28, 1), (14, 1), (7, 1)] {
            for k in [288, 576] {
                var best = 0.0
                var bestNS = 0.0
                for _ in 0..<5 {
                    best = max(best, _pmTileBench(p: p, b: b, k: k, reps: 20000, skipStore: false))
                    bestNS = max(bestNS, _pmTileBench(p: p, b: b, k: k, reps: 20000, skipStore: true))
                }
                print("convx tile p\(p) b\(b) k\(k): \(String(format: "%.1f", best)) GFLOP/s, no store \(String(format: "%.1f", bestNS))")
            }
        }
    }
}

extension ConvExperiment {
    @Test func packing() {
        let s = Conv2DShape(batch: 1, inChannels: 64, inHeight: 7, inWidth: 7, outChannels: 64, kernelH: 3, kernelW: 3, padTop: 1, padLeft: 1, padBottom: 1, padRight: 1)
        var rng = TestRNG(seed: 5)
        let w = rng.floats(64 * 64 * 9)
        var best = Double.infinity
        for _ in 0..<200 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let p = PackedConvWeights(s, weight: w)
            let t = Double(DispatchTime.now().uptimeNanoseconds - t0)
            withExtendedLifetime(p) {}
            best = min(best, t)
        }
        print("convx pack 64x576: \(String(format: "%.2f", best / 1000)) us")
    }
}

extension ConvExperiment {
    @Test func pool() {
        let s = Pool2DShape(batch: 256, channels: 32, inHeight: 28, inWidth: 28, outHeight: 14, outWidth: 14, kernelH: 2, kernelW: 2, strideH: 2, strideW: 2)
        var s3 = s
        s3.kernelH = 3; s3.kernelW = 3; s3.padTop = 1; s3.padLeft = 1; s3.padBottom = 1; s3.padRight = 1
        var rng = TestRNG(seed: 1)
        let x = rng.floats(256 * 32 * 28 * 28)
        var y = [Float](repeating: 0, count: 256 * 32 * 14 * 14)
        for (name, shape) in [("2x2", s), ("3x3p1", s3)] {
            var best = Double.infinity
            for _ in 0..<10 {
                let t0 = threadCPU()
                maxPool2d(shape, input: x, output: &y, threads: 1)
                best = min(best, Double(threadCPU() - t0) * 1e-6)
            }
            print("pool \(name) 1T cpu \(best) ms")
        }
    }
}
