#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Kernels
import Synchronization
import Testing

@Suite struct ParallelTests {
    @Test(arguments: [0, 1, 2, 3, 17, 1000])
    func everyIndexRunsOnce(count: Int) {
        for threads in [1, 2, 4] {
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
            hits.initialize(repeating: 0, count: max(count, 1))
            defer { hits.deallocate() }
            Parallel.forEach(count, threads: threads) { i in hits[i] += 1 }
            #expect((0..<count).allSatisfy { hits[$0] == 1 }, "count=\(count) threads=\(threads)")
        }
    }

    @Test func nestedCallsRunInline() {
        let n = 8
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: n * n)
        hits.initialize(repeating: 0, count: n * n)
        defer { hits.deallocate() }
        Parallel.forEach(n, threads: 2) { i in
            Parallel.forEach(n, threads: 2) { j in hits[i * n + j] += 1 }
        }
        #expect((0..<(n * n)).allSatisfy { hits[$0] == 1 })
    }

    /// Body 0 waits for body 1 to run: only possible if two threads run bodies at the same time.
    /// (A wall-clock test would pass even with both threads time-sliced on one core.) Other tests
    /// may hold the pool, in which case the call runs inline and cannot see a partner, so this
    /// retries and requires one success.
    @Test(.enabled(if: Parallel.maxThreads >= 2, "needs two cores"))
    func runsConcurrently() {
        var successes = 0
        for _ in 0..<50 where successes == 0 {
            let flag = Atomic<Int>(0)
            let sawPartner = Atomic<Bool>(false)
            Parallel.forEach(2, threads: 2) { i in
                if i == 1 {
                    flag.store(1, ordering: .releasing)
                } else {
                    // Index 0 is handed out first; the other thread must pick up index 1 meanwhile.
                    var spins = 0
                    while flag.load(ordering: .acquiring) == 0 && spins < 20_000_000 { spins += 1 }
                    sawPartner.store(flag.load(ordering: .acquiring) == 1, ordering: .relaxed)
                }
            }
            if sawPartner.load(ordering: .relaxed) { successes += 1 }
        }
        #expect(successes == 1)
    }

    /// Many back-to-back short jobs from two threads at once (one of them runs inline whenever the
    /// other holds the pool): every index of every job runs exactly once, and each job's writes are
    /// complete when its call returns, including when a worker joins late or skips a job.
    @Test func backToBackJobsFromTwoThreads() {
        let failures = FailureCount()
        let box = Unmanaged.passRetained(ThreadBox { Self.hammer(seed: 1, failures) }).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<ThreadBox>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, box)
        #expect(rc == 0)
        Self.hammer(seed: 0, failures)
        pthread_join(thread, nil)
        #expect(failures.value.load(ordering: .relaxed) == 0)
    }

    private static func hammer(seed: Int, _ failures: FailureCount) {
        var hits = [Int](repeating: 0, count: 5)
        for j in 0..<20_000 {
            let count = 2 + (j + seed) % 4
            hits.withUnsafeMutableBufferPointer { h in
                let base = h.baseAddress!
                Parallel.forEach(count, threads: 2) { i in base[i] += 1 }
            }
            if (0..<count).contains(where: { hits[$0] != 1 }) { failures.value.add(1, ordering: .relaxed) }
            for i in 0..<5 { hits[i] = 0 }
        }
    }
}

private final class FailureCount: Sendable {
    let value = Atomic<Int>(0)
}

private final class ThreadBox {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}
