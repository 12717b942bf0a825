// swift-tools-version:6.1
// Micro-benchmarks of consentgate's hot path (ordo-one/benchmark), kept out of the main package so that
// neither CI nor `swift build` builds them. Run: cd Benchmarks && swift package --disable-sandbox benchmark
// (see BENCHMARKS.md). The load benchmark is Benchmarks/load/run.sh.
import PackageDescription

let package = Package(
    name: "consentgate-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named explicitly: a path dependency is otherwise named after its folder, which differs between clones.
        .package(name: "consentgate", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The batch every benchmark works on, and an in-memory store.
        .target(
            name: "BenchmarkFixtures",
            dependencies: [
                .product(name: "SegmentWire", package: "consentgate"),
                .product(name: "ConsentCore", package: "consentgate"),
            ],
            path: "Sources/BenchmarkFixtures"
        ),
        .executableTarget(
            name: "ConsentgateBenchmarks",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SegmentWire", package: "consentgate"),
                .product(name: "ConsentCore", package: "consentgate"),
            ],
            path: "Benchmarks/ConsentgateBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Store lookups per 100 events under Zipf(s) traffic, simulated against ConsentResolver with a
        // simulated clock (load/run.sh runs it at the event rate it measured).
        .executableTarget(
            name: "ZipfLookups",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "ConsentCore", package: "consentgate"),
            ],
            path: "Sources/ZipfLookups"
        ),
        // The per-batch hot path in a loop, for callgrind (instruction counts).
        .executableTarget(
            name: "HotPathProfile",
            dependencies: [
                "BenchmarkFixtures",
                .product(name: "SegmentWire", package: "consentgate"),
                .product(name: "ConsentCore", package: "consentgate"),
            ],
            path: "Sources/HotPathProfile"
        ),
    ]
)
