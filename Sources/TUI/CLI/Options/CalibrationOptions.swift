import ArgumentParser

/// `--calib N`: how many samples, from the start of the data, calibrate whatever the command
/// calibrates (activation ranges and smoothing, activation statistics, the Fisher diagonal that
/// weights lut's k-means).
package struct CalibrationOptions: ParsableArguments {
    package init() {}

    /// The default every command shares, so that `eval`, `export` and the workbench calibrate alike.
    package static let defaultSamples = 512

    @Option(name: .customLong("calib"),
            help: "Calibrate on the first N samples: activation ranges (and smoothing), activation statistics, and the Fisher diagonal that weights lut's k-means.")
    package var samples: Int = CalibrationOptions.defaultSamples

    package func validate() throws {
        try requirePositive(samples, "--calib")
    }
}

/// lut's clustering: `--plain-lut` turns off the Fisher weighting (shared by `eval` and `compare`).
struct LutOptions: ParsableArguments {
    @Flag(name: .long, help: "lut: plain k-means, without the Fisher weighting computed from gradients on the calibration samples.")
    var plainLut = false
}
