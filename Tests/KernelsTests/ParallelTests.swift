import Glibc
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
    @Test func runsConcurrently() {
        guard Parallel.maxThreads >= 2 else { return }
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
}
