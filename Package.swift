// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "consentgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "consentgate", targets: ["consentgate"]),
        .library(name: "SegmentWire", targets: ["SegmentWire"]),
        .library(name: "ConsentCore", targets: ["ConsentCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // Already in the graph through swift-configuration's YAML trait; named here because its YAML reader
        // rejects a sequence of mappings, so `sources` and `admin.webhooks` are read with Yams directly.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // zlib from the system (Debian: zlib1g-dev), for inflate with a hard cap and gzip re-encoding.
        // libdeflate, faster on whole gzip bodies, is no build dependency: SegmentWire loads its shared
        // library (libdeflate.so.0, Debian: libdeflate0) at run time when it is there (LibDeflate.swift).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // One compiler builtin Swift does not expose: a software prefetch, for the cache's batched lookups.
        .target(name: "CPrefetch"),
        // The tracking API's wire format: pure, no I/O.
        .target(name: "SegmentWire", dependencies: ["CZlib"]),
        // Consent semantics: records, verdicts, policy, the cache state machine. Pure, no I/O.
        .target(name: "ConsentCore", dependencies: ["SegmentWire", "CPrefetch"]),
        // The visitor's address: IP parsing, trusted proxies and forwarding headers, where `context.ip` goes. Pure, no I/O.
        .target(name: "ClientAddress", dependencies: ["SegmentWire"]),
        // Stores of record: SQLite (embedded default), PostgreSQL (many replicas), HTTP (a customer's service).
        .target(
            name: "ConsentStores",
            dependencies: [
                "ConsentCore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The CRC-32C instruction (SSE 4.2), which Swift does not expose, for the spool's frame checksums.
        .target(name: "CCRC32C"),
        // The durable spool of `delivery.mode: spool`: a framed, group-committed on-disk log. Only file I/O.
        .target(name: "Spool", dependencies: ["CCRC32C"]),
        // The server: wiring of ingress, forwarder, admin API, metrics and audit log.
        .target(
            name: "ConsentGate",
            dependencies: [
                "SegmentWire", "ConsentCore", "ConsentStores", "ClientAddress", "Spool",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(
            name: "consentgate",
            dependencies: [
                "ConsentGate",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The throw-away PostgreSQL server of `scripts/test.sh`, for the store's and the gateway's tests.
        .target(
            name: "PostgresTestSupport",
            dependencies: [
                "ConsentStores",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/PostgresTestSupport"
        ),
        // Request bodies that the inflater's tests and the gateway's hostile-input tests both need,
        // and the seeded generator of every randomized test.
        .target(name: "WireTestSupport", dependencies: ["CZlib"], path: "Tests/WireTestSupport"),
        .testTarget(name: "SegmentWireTests", dependencies: ["SegmentWire", "WireTestSupport"]),
        .testTarget(name: "ConsentCoreTests", dependencies: ["ConsentCore", "WireTestSupport"]),
        .testTarget(name: "ClientAddressTests", dependencies: ["ClientAddress", "SegmentWire"]),
        .testTarget(name: "SpoolTests", dependencies: ["Spool", "WireTestSupport"]),
        .testTarget(
            name: "ConsentStoresTests",
            dependencies: [
                "ConsentStores", "ConsentCore", "PostgresTestSupport", "WireTestSupport",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ConsentGateTests",
            dependencies: [
                "ConsentGate", "SegmentWire", "ConsentCore", "ConsentStores", "ClientAddress", "Spool", "PostgresTestSupport", "WireTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ]
        ),
    ]
)
