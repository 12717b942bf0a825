// swift-tools-version:6.1
// The decoder fuzzer: a libFuzzer target over SegmentWire and ConsentCore (see README "Fuzzing").
// Build and run it with Fuzz/run.sh; it is a separate package so that the main build never
// compiles with -sanitize=fuzzer.
import PackageDescription

let package = Package(
    name: "consentgate-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "consentgate", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "DecoderFuzzer",
            dependencies: [
                .product(name: "SegmentWire", package: "consentgate"),
                .product(name: "ConsentCore", package: "consentgate"),
            ]
        ),
    ]
)
