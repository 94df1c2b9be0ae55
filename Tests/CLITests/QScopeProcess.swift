import Foundation

/// Runs the built `qscope` executable (the one `swift test` builds next to the test bundle) and
/// captures its exit status and output. A run is killed after `timeout` seconds so that a hang fails
/// the test instead of blocking it.
struct QScopeProcess {
    struct Result {
        var status: Int32
        /// True when the process died of a signal (a trap or crash), not by exiting.
        var crashed: Bool
        var timedOut: Bool
        var stdout: String
        var stderr: String
    }

    /// The repository root (three levels above this file).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var executable: URL {
        if let override = ProcessInfo.processInfo.environment["QSCOPE_BIN"] { return URL(fileURLWithPath: override) }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("qscope")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/release/qscope")
    }

    /// Runs the binary with `arguments` in `directory` (default: the repository root).
    static func run(_ arguments: [String], timeout: Double = 120, in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? repositoryRoot
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        // Drain the pipes on other threads so a chatty process cannot block on a full pipe.
        nonisolated(unsafe) var outData = Data(), errData = Data()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                process.terminate()
                break
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        process.waitUntilExit()
        group.wait()
        return Result(status: process.terminationStatus, crashed: process.terminationReason == .uncaughtSignal && !timedOut,
                      timedOut: timedOut, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}
