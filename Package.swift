// swift-tools-version:6.1
import PackageDescription

// tally: small Unix programs that turn agency feeds into normalised records and explainable scores.
// Module layout (see README): C libraries behind system-library targets; CTally holds the compiler
// built-ins Swift cannot call (prefetch), the SSE2 string scan and TallyCore's C library calls
// (exp2, the huge-page map); TallyCore is otherwise pure Swift, importing neither Foundation nor
// Glibc; TallyIO touches descriptors and C; TallyCLI is what the stage executables share.
/// Hot-path modules skip Swift's run-time exclusivity checks in release builds: the byte buffer's
/// properties are touched several times per byte written, and the checks cost about a fifth of
/// tally-synth's time (measured with perf); the stages' per-row loops (TallyCLI) pass class
/// properties inout on every row. Debug builds, and so the tests, keep the checks.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "tally",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tally-synth", targets: ["tally-synth"]),
        .executable(name: "tally-parse", targets: ["tally-parse"]),
        .executable(name: "tally-validate", targets: ["tally-validate"]),
        .executable(name: "tally-link", targets: ["tally-link"]),
        .executable(name: "tally-score", targets: ["tally-score"]),
        .executable(name: "tally-explain", targets: ["tally-explain"]),
        .executable(name: "tally-report", targets: ["tally-report"]),
        .executable(name: "tally-store", targets: ["tally-store"]),
        .executable(name: "tally-bench", targets: ["tally-bench"]),
    ],
    // Exact versions: builds are reproducible without a Package.resolved, which stays out of
    // git (the mirrored packages' commit ids are not upstream's).
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", exact: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", exact: "6.2.2"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(name: "CIsal", pkgConfig: "libisal", providers: [.apt(["libisal-dev"]), .brew(["isa-l"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]),
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"]), .brew(["libxml2"])]),
        // What Swift cannot say at speed (prefetch, the SSE2 string scan): Sources/CTally/include/CTally.h.
        .target(name: "CTally", linkerSettings: [.linkedLibrary("m")]),
        .target(name: "TallyCore", dependencies: [
            "CTally",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: hotPath),
        .target(name: "TallyIO", dependencies: [
            "TallyCore", "CTally", "CZlib", "CIsal", "CLibXML2", "CSQLite",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: hotPath),
        // The version and the commit a binary was built from, stamped before every build.
        .plugin(name: "CommitStamp", capability: .buildTool()),
        .target(name: "TallyBuildInfo", plugins: ["CommitStamp"]),
        .target(name: "TallyCLI", dependencies: [
            "TallyCore", "TallyIO", "TallyBuildInfo",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: hotPath),
        .target(name: "TallySynth", dependencies: ["TallyCore", "TallyIO"], swiftSettings: hotPath),
        .executableTarget(name: "tally-synth", dependencies: [
            "TallyCLI", "TallySynth", "TallyIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tally-parse", dependencies: [
            "TallyCLI", "TallyCore", "TallyIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tally-validate", dependencies: [
            "TallyCLI", "TallyCore", "TallyIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tally-link", dependencies: [
            "TallyCLI", "TallyCore", "TallyIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tally-score", dependencies: [
            "TallyCLI", "TallyCore", "TallyIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tally-explain", dependencies: [
            "TallyCLI", "TallyCore", "TallyIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tally-report", dependencies: [
            "TallyCLI", "TallyCore", "TallyIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "tally-store", dependencies: [
            "TallyCLI", "TallyIO",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Fuzz targets (scripts/fuzz.sh builds them with libFuzzer; otherwise they replay inputs).
        .executableTarget(name: "tally-fuzz", dependencies: ["CTally", "TallyCore", "TallyIO"]),
        .executableTarget(name: "tally-bench", dependencies: [
            "TallyCLI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "TallyCoreTests", dependencies: ["TallyCore", "TallyIO"]),
        .testTarget(name: "TallyIOTests", dependencies: ["TallyIO", "TallyCore"]),
        .testTarget(name: "TallySynthTests", dependencies: ["TallySynth", "TallyCore"]),
        // Stage tests run the built executables; depending on them makes `swift test` build them.
        .testTarget(name: "StageTests", dependencies: ["TallyCore", "tally-synth", "tally-parse", "tally-validate", "tally-link", "tally-score", "tally-explain", "tally-report", "tally-store", "tally-bench"]),
    ]
)
