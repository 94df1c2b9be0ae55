import Analysis
import ArgumentParser

extension FidelityMetric: ExpressibleByArgument {}

/// `--metric`: the headline fidelity metric of commands that score a model.
package struct MetricOptions: ParsableArguments {
    package init() {}

    @Option(name: .long, help: ArgumentHelp(
        "Headline metric: accuracy (labels, [N, classes] logits), agreement (top-1 equal to FP32 over every position), cosine (per sample, to FP32), sqnr (output, dB) or kl (last-axis softmax to FP32). Default: accuracy with labels, else agreement for logits, cosine for other outputs.",
        valueName: "accuracy|agreement|cosine|sqnr|kl"))
    package var metric: FidelityMetric?
}
