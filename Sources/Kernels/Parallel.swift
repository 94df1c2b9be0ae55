#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Fork-join parallel loops for the kernels.
///
/// Work runs on a small persistent pool of plain pthreads (not the Swift cooperative pool), so
/// `forEach` may be called from any thread, including the UI thread and cooperative tasks: the
/// workers are dedicated threads and the caller always participates, so no call can deadlock on a
/// blocked pool.
///
/// Why not `DispatchQueue.concurrentPerform`: on this Linux machine it wakes its second worker
/// lazily. Measured per call with two equal tasks (2 cores): 2 µs tasks took 8 µs, 100 µs tasks
/// took ~156 µs (often serialised). This pool's overhead is about 1 µs per call while the worker
/// is spinning (a 9.6 µs vector product ran in 5.1 µs on two threads); the worker spins ~50 µs
/// after each job, then sleeps on a condition variable (waking it costs 20-50 µs).
///
/// Only one parallel loop runs on the pool at a time. A call made while the pool is busy (a nested
/// call from inside a body, or a concurrent call from another thread) runs serially on the
/// calling thread: the result is the same, only slower.
public enum Parallel {
    private static let configuredThreads = Atomic<Int>(Parallel.activeProcessorCount)

    /// Number of threads kernels use by default (their `threads:` parameter). Defaults to the number
    /// of online processors. Values below 1 are treated as 1.
    public static var maxThreads: Int {
        get { max(1, configuredThreads.load(ordering: .relaxed)) }
        set { configuredThreads.store(max(1, newValue), ordering: .relaxed) }
    }

    /// Runs `body(i)` once for every `i` in `0..<count`, spread over up to `threads` threads
    /// (the calling thread included), and returns when all calls have finished.
    ///
    /// Indices are handed out dynamically, one at a time, in increasing order; the order in which
    /// bodies run on different threads is unspecified, so bodies must write disjoint memory.
    /// Runs inline (in index order) when `threads <= 1`, `count <= 1`, or the pool is busy.
    /// `count <= 0` does nothing.
    public static func forEach(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        let wanted = min(threads, count, ThreadPool.maxWorkers + 1)
        if wanted <= 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            if !ThreadPool.shared.run(count: count, threads: wanted, escaping) {
                for i in 0..<count { escaping(i) }
            }
        }
    }

    static var activeProcessorCount: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n > 0 ? n : 1
    }
}

/// The persistent worker pool behind `Parallel.forEach`.
///
/// `@unchecked Sendable`: the job fields (`body`, `count`, `activeWorkers`) are written only by
/// the thread that owns the pool (it won `busy`) and only before it publishes the job by bumping
/// `generation` with release ordering; workers read them only after entering the job (below).
///
/// Joining: the owner drains indices itself and then closes the job; it waits only for workers
/// that entered it, never for one that has not woken up yet (a worker descheduled by the OS used to
/// hold every call up until it ran: batch-1 passes lost 2-3x on a loaded machine). Entering is a
/// Dekker-style handshake on two sequentially consistent atomics: a worker increments `inside`,
/// then checks that `openGeneration` is the job it woke for; the owner sets `openGeneration` to
/// closed, then waits for `inside` to reach 0. Either the worker sees the job closed and leaves
/// without touching it, or the owner sees the worker inside and waits for it.
final class ThreadPool: @unchecked Sendable {
    static let shared = ThreadPool()
    /// Upper bound on worker threads, whatever `threads` callers ask for.
    static let maxWorkers = 63

    private let busy = Atomic<Bool>(false)
    private let generation = Atomic<Int>(0)
    private let nextIndex = Atomic<Int>(0)
    /// The generation of the job workers may still enter, or `closed`.
    private let openGeneration = Atomic<Int>(ThreadPool.closed)
    /// Workers inside a job (between entering and leaving it).
    private let inside = Atomic<Int>(0)
    private let workerCount = Atomic<Int>(0)
    private static let closed = -1

    private var body: ((Int) -> Void)?
    private var count = 0
    private var activeWorkers = 0

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    /// How long a worker spins after a job before it sleeps: back-to-back kernels (the common case
    /// in a forward pass) find it awake, while an idle pool costs no CPU.
    private static let spinNanoseconds: UInt64 = 50_000

    private init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    /// Runs the job on `threads` threads (caller included). Returns false, having run nothing, if
    /// the pool is already running a job.
    func run(count: Int, threads: Int, _ job: @escaping (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            return false
        }
        let workers = threads - 1
        ensureWorkers(workers)
        body = job
        self.count = count
        activeWorkers = workers
        nextIndex.store(0, ordering: .relaxed)
        let published = generation.load(ordering: .relaxed) + 1
        openGeneration.store(published, ordering: .sequentiallyConsistent)
        generation.store(published, ordering: .releasing)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)

        drain(job, count)
        openGeneration.store(Self.closed, ordering: .sequentiallyConsistent)
        var spins = 0
        while inside.load(ordering: .sequentiallyConsistent) != 0 {
            spins += 1
            if spins > 1000 { sched_yield() }
        }
        body = nil
        busy.store(false, ordering: .releasing)
        return true
    }

    @inline(__always)
    private func drain(_ job: (Int) -> Void, _ count: Int) {
        while true {
            let i = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
            if i >= count { return }
            job(i)
        }
    }

    /// Starts workers until there are at least `needed`. Called only by the pool's owner before it
    /// publishes a job, so a new worker's first generation is that job's.
    private func ensureWorkers(_ needed: Int) {
        var have = workerCount.load(ordering: .relaxed)
        let current = generation.load(ordering: .relaxed)
        while have < needed {
            let start = WorkerStart(pool: self, id: have, generation: current)
            let box = Unmanaged.passRetained(start).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(
                &thread, nil,
                { raw in
                    let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                    start.pool.workerLoop(id: start.id, seen: start.generation)
                    return nil
                }, box)
            precondition(rc == 0, "Parallel: pthread_create failed (\(rc))")
            pthread_detach(thread)
            have += 1
            workerCount.store(have, ordering: .relaxed)
        }
    }

    private func workerLoop(id: Int, seen initial: Int) {
        var seen = initial
        while true {
            var spins = 0
            var deadline: UInt64 = 0
            while generation.load(ordering: .acquiring) == seen {
                spins &+= 1
                if spins & 255 == 0 {
                    // The clock is read rarely: it costs ~20 ns, a poll ~1 ns.
                    let now = monotonicNanoseconds()
                    if deadline == 0 {
                        deadline = now + Self.spinNanoseconds
                    } else if now > deadline {
                        break
                    }
                }
            }
            if generation.load(ordering: .acquiring) == seen {
                pthread_mutex_lock(mutex)
                while generation.load(ordering: .acquiring) == seen {
                    pthread_cond_wait(condition, mutex)
                }
                pthread_mutex_unlock(mutex)
            }
            // Join the newest job if it is still open; a late worker may have slept through
            // several jobs, which finished without it.
            seen = generation.load(ordering: .acquiring)
            inside.add(1, ordering: .sequentiallyConsistent)
            if openGeneration.load(ordering: .sequentiallyConsistent) == seen, id < activeWorkers, let job = body {
                drain(job, count)
            }
            inside.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}

@inline(__always)
private func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

private final class WorkerStart {
    let pool: ThreadPool
    let id: Int
    let generation: Int
    init(pool: ThreadPool, id: Int, generation: Int) {
        self.pool = pool
        self.id = id
        self.generation = generation
    }
}
