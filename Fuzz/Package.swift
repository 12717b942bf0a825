// swift-tools-version:6.1
// The fuzzers (see README "Fuzzing"): libFuzzer targets over SegmentWire and ConsentCore — the request
// decoder (DecoderFuzzer) and the consent cache (CacheFuzzer). Build and run them with Fuzz/run.sh; it
// is a separate package so that the main build never compiles with -sanitize=fuzzer.
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
        .executableTarget(
            name: "CacheFuzzer",
            dependencies: [
                .product(name: "SegmentWire", package: "consentgate"),
                .product(name: "ConsentCore", package: "consentgate"),
            ]
        ),
    ]
)
