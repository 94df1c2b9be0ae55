// swift-tools-version: 6.1
import PackageDescription

// MARK: - Build settings

/// Release builds compile for this machine's vector unit: swiftc otherwise targets baseline x86-64
/// (SSE2) and the SIMD kernels run several times slower (design.md §9). Override with
/// `QSCOPE_TARGET_CPU=x86-64-v3 swift build -c release` (or `=generic` to disable).
let targetCPU = Context.environment["QSCOPE_TARGET_CPU"] ?? "native"
let cpuFlags: [String] = targetCPU == "generic" ? [] : ["-target-cpu", targetCPU]
let fastMath: [SwiftSetting] = [
    .unsafeFlags(cpuFlags + ["-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "qscope",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "qscope", targets: ["qscope"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "Analysis", targets: ["Analysis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
        .package(url: "https://github.com/pointfreeco/swift-snapshot-testing", exact: "1.19.7"),
    ],
    targets: [
        // MARK: - Libraries (TUI -> Analysis -> Kernels)
        .target(name: "Kernels", swiftSettings: fastMath),
        .target(
            name: "Analysis",
            dependencies: [
                "Kernels",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: fastMath
        ),
        // The workbench's state, reducer, views, themes and buffer diffing: pure Swift, no terminal.
        .target(
            name: "TUI",
            dependencies: ["Analysis"],
            path: "Sources/TUI",
            exclude: ["App", "CursesShim", "CursesBackend"],
            swiftSettings: fastMath
        ),
        // The only code that includes curses (style.md §3): a C shim over ncursesw and the Swift
        // backend on top of it. No test target depends on them.
        .target(
            name: "CQScopeCurses",
            path: "Sources/TUI/CursesShim",
            linkerSettings: [.linkedLibrary("ncursesw")]
        ),
        .target(
            name: "CursesBackend",
            dependencies: ["TUI", "CQScopeCurses"],
            path: "Sources/TUI/CursesBackend"
        ),
        .executableTarget(
            name: "qscope",
            dependencies: [
                "TUI", "CursesBackend", "Analysis", "Kernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/TUI/App",
            swiftSettings: fastMath
        ),

        // MARK: - Tests
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"], swiftSettings: fastMath),
        .testTarget(
            name: "AnalysisTests",
            dependencies: ["Analysis", "Kernels"],
            swiftSettings: fastMath
        ),
        .testTarget(
            name: "TUITests",
            dependencies: [
                "TUI", "Analysis",
                .product(name: "SnapshotTesting", package: "swift-snapshot-testing"),
            ],
            exclude: ["__Snapshots__"]
        ),
        // Runs the built `qscope` binary (bad input, JSON output); needs no module of ours.
        .testTarget(name: "CLITests"),
    ]
)
