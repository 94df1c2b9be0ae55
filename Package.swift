// swift-tools-version: 6.1
import PackageDescription

// MARK: - Build settings

/// Release builds of the numeric targets compile for this machine's vector unit. swiftc otherwise
/// targets baseline x86-64 (SSE2) and the SIMD kernels run several times slower
/// (docs/architecture.md, "Build settings").
///
/// `QSCOPE_TARGET_CPU` overrides the CPU (`x86-64-v3`, `znver4`, ...). `QSCOPE_TARGET_CPU=generic`
/// builds without any unsafe flag at all: the portable build that another package can depend on
/// (SwiftPM refuses unsafe flags in dependencies).
let targetCPU = Context.environment["QSCOPE_TARGET_CPU"] ?? "native"

/// `-target-cpu` for the vector unit, and no runtime exclusivity checks in the hot loops (the
/// kernels hand out disjoint unsafe pointers; the checks cost up to 10% in the executor). Release
/// only: debug builds stay portable and fully checked.
let nativeReleaseCodegen: [SwiftSetting] = targetCPU == "generic" ? [] : [
    .unsafeFlags(["-target-cpu", targetCPU, "-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "qscope",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "qscope", targets: ["qscope"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "Executor", targets: ["Executor"]),
        .library(name: "Analysis", targets: ["Analysis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
        .package(url: "https://github.com/pointfreeco/swift-snapshot-testing", exact: "1.19.7"),
    ],
    targets: [
        // MARK: - Numeric core and model execution (Sources/Kernels, Sources/Analysis/Executor)

        /// Numeric loops on contiguous Float buffers: GEMM, convolutions, reductions, quantizers.
        /// No I/O, no Foundation. `Generated/` holds the unrolled micro-kernels that
        /// `tools/generate` writes.
        .target(name: "Kernels", swiftSettings: nativeReleaseCodegen),
        /// The graph IR, the ONNX loader and the float32 executor with reverse mode (gradients and
        /// exact Hessian-vector products). Knows nothing about quantization plans.
        .target(
            name: "Executor",
            dependencies: ["Kernels", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Sources/Analysis/Executor",
            swiftSettings: nativeReleaseCodegen
        ),

        // MARK: - Quantization analysis (Sources/Analysis)

        /// Data sets, quantizers applied to models, plans, evaluation, sensitivity, search, export
        /// and the background engines the workbench talks to. Its one nested folder, `Executor`, is
        /// the target above.
        .target(
            name: "Analysis",
            dependencies: [
                "Kernels", "Executor",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            exclude: ["Executor"],
            swiftSettings: nativeReleaseCodegen
        ),

        // MARK: - Front ends (Sources/TUI: one target per folder)

        /// The workbench's state, reducer, keymap, views, themes and buffer diffing: pure Swift,
        /// no terminal, every screen testable as a value.
        .target(name: "Workbench", dependencies: ["Analysis"], path: "Sources/TUI/Workbench"),
        /// The only code that includes curses: a C shim over ncursesw (the macros and globals Swift
        /// cannot import) ...
        .target(
            name: "CQScopeCurses",
            path: "Sources/TUI/CursesShim",
            linkerSettings: [.linkedLibrary("ncursesw")]
        ),
        /// ... and the terminal backend on top of it. No test target depends on either.
        .target(name: "CursesBackend", dependencies: ["Workbench", "CQScopeCurses"], path: "Sources/TUI/CursesBackend"),
        /// The headless commands (`eval`, `info`, `analyze`, `search`, `export`, ...) with their
        /// shared option groups and reports: a library, so tests call them without a process.
        .target(
            name: "CLI",
            dependencies: [
                "Analysis", "Executor", "Kernels", "Workbench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/TUI/CLI"
        ),
        /// The interactive workbench: the UI loop that joins the terminal, the reducer and the
        /// engines.
        .target(
            name: "WorkbenchRuntime",
            dependencies: [
                "Workbench", "CursesBackend", "Analysis", "CLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/TUI/WorkbenchRuntime"
        ),
        /// `qscope`: the root command and nothing else.
        .executableTarget(
            name: "qscope",
            dependencies: [
                "CLI", "WorkbenchRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/TUI/qscope"
        ),

        // MARK: - Tests

        .testTarget(name: "KernelsTests", dependencies: ["Kernels"], swiftSettings: nativeReleaseCodegen),
        /// What the model-level test targets share: the bundled sample models and data, and the
        /// seeded generator's normal draws.
        .target(name: "TestSupport", dependencies: ["Analysis", "Executor", "Kernels"], path: "Tests/TestSupport"),
        .testTarget(
            name: "ExecutorTests",
            dependencies: ["Executor", "Analysis", "Kernels", "TestSupport"],
            swiftSettings: nativeReleaseCodegen
        ),
        .testTarget(
            name: "AnalysisTests",
            dependencies: ["Analysis", "Executor", "Kernels", "TestSupport"],
            swiftSettings: nativeReleaseCodegen
        ),
        .testTarget(
            name: "WorkbenchTests",
            dependencies: [
                "Workbench", "Analysis", "Executor",
                .product(name: "SnapshotTesting", package: "swift-snapshot-testing"),
            ],
            exclude: ["__Snapshots__"]
        ),
        // Runs the built `qscope` binary (bad input, JSON output); needs no module of ours.
        .testTarget(name: "CLITests"),
    ]
)

// MARK: - Benchmarks (Benchmarks/, only with QSCOPE_BENCHMARKS=1)

/// The kernels' throughput benchmarks, run with ordo-one/benchmark's plugin:
/// `QSCOPE_BENCHMARKS=1 swift package benchmark` (Benchmarks/README.md). Declared only when asked
/// for, so that an ordinary `swift build` or `swift test` neither fetches nor builds the benchmark
/// package and its dependencies.
if Context.environment["QSCOPE_BENCHMARKS"] == "1" {
    package.dependencies.append(
        // Naming the traits leaves out the default `RuntimeInterposer` (ARC counters on Linux with
        // Swift 6.3), whose extra package, swift-runtime-interposer, is not among the packages
        // this project's machines can fetch.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"])
    )
    package.targets.append(
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: ["Kernels", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/KernelBenchmarks",
            swiftSettings: nativeReleaseCodegen,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}

