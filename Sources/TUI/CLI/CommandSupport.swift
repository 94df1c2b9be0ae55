import Analysis
import ArgumentParser
import Executor
import Foundation

/// Runs a command body and turns every user-facing failure into one line on stderr and exit status 1.
package func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as QScopeError {
        throw exitReporting(error)
    }
}

/// `reportingErrors` for a synchronous body (the workbench, which owns the terminal on this thread).
package func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as QScopeError {
        throw exitReporting(error)
    }
}

/// Writes `qscope: <error>` on stderr; the exit status to end with.
private func exitReporting(_ error: QScopeError) -> ExitCode {
    writeToStandardError("qscope: \(error.description)")
    return ExitCode(1)
}

/// One line on stderr (progress and warnings, which must not mix with a JSON report on stdout).
package func writeToStandardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// `NumberFormat.fixed`, the reports' spelling: `fixed(12.345, 2)` = "12.35" (printf's rounding).
func fixed(_ value: Double, _ decimals: Int) -> String { NumberFormat.fixed(value, decimals: decimals) }

/// The headless subcommands, in the order `qscope --help` lists them after the workbench.
package enum HeadlessCommands {
    package static let all: [any ParsableCommand.Type] = [
        EvalCommand.self, InfoCommand.self, BenchCommand.self, CompareCommand.self, AnalyzeCommand.self,
        SearchCommand.self, ParetoCommand.self, ExportCommand.self,
    ]
}

/// `path` without the working directory in front (shorter on screen; still valid for saving).
package func relativeToWorkingDirectory(_ path: String) -> String {
    let cwd = FileManager.default.currentDirectoryPath + "/"
    return path.hasPrefix(cwd) ? String(path.dropFirst(cwd.count)) : path
}

/// Runs synchronous work that blocks its thread while tasks of its own run (the single-layer
/// accuracies of `analyze` wait for the plan evaluator that way) on a thread of its own, and awaits
/// it. On a thread of the cooperative pool such work would hold one of the pool's few threads
/// (one per core) while its tasks need them, and with one core it would never finish.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.stackSize = 8 << 20  // the executor's recursion and large frames: the main thread's 8 MiB
        thread.start()
    }
}
