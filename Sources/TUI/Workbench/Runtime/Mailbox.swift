#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Where background work (the engine) leaves messages for the UI thread.
///
/// `post` appends under a mutex and writes one byte to a pipe; the UI thread waits in `poll` on the
/// pipe's read end together with the terminal, so a message wakes it at once without polling.
public final class Mailbox: Sendable {
    private let queue = Mutex<[Msg]>([])
    /// Read end (polled by the UI thread) and write end of the wake pipe.
    public let wakeFD: Int32
    private let writeFD: Int32

    public init() {
        var fds: [Int32] = [0, 0]
        if pipe(&fds) != 0 { fds = [-1, -1] }
        wakeFD = fds[0]
        writeFD = fds[1]
        for fd in fds where fd >= 0 { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    deinit {
        if wakeFD >= 0 { Glibc.close(wakeFD) }
        if writeFD >= 0 { Glibc.close(writeFD) }
    }

    /// Queues `msg` and wakes the UI thread. Callable from any thread.
    public func post(_ msg: Msg) {
        queue.withLock { $0.append(msg) }
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)  // a full pipe already guarantees a wake-up
    }

    /// Takes every queued message, in order, and empties the wake pipe.
    public func drain() -> [Msg] {
        var sink = [UInt8](repeating: 0, count: 256)
        while read(wakeFD, &sink, sink.count) > 0 {}
        return queue.withLock { messages in
            defer { messages.removeAll() }
            return messages
        }
    }
}
