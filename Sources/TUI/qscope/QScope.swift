import ArgumentParser
import CLI
import WorkbenchRuntime

/// `qscope`: the workbench by default, the headless commands as subcommands.
@main
struct QScope: ParsableCommand {
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
