import ArgumentParser
import CLI
import WorkbenchRuntime

/// `qscope`: the workbench by default, the headless commands as subcommands.
///
/// Async so that the headless commands (async) run on it; the workbench command stays synchronous
/// (its loop owns the terminal on the main thread), which an async root runs as it is.
@main
struct QScope: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "qscope",
        abstract: "A workbench for mixed-precision quantization of neural networks.",
        discussion: """
            Without a subcommand qscope opens the workbench. Without a model path, commands use the bundled \
            default sample model and its evaluation data.
            """,
        subcommands: [WorkbenchCommand.self] + HeadlessCommands.all,
        defaultSubcommand: WorkbenchCommand.self
    )
}
