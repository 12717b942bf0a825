import Benchmark
import BenchmarkFixtures
import ConsentCore
import SegmentWire

/// The hot path of one request, stage by stage, on a realistic 100-event batch (~75 KB of JSON,
/// ~10 KB gzip; see BenchmarkFixtures). Each benchmark iteration is one batch.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 20,
        scalingFactor: .one,
        maxDuration: .seconds(3),
        maxIterations: 100_000,
        // The checked-in p90 thresholds (Thresholds/) are compared with these tolerances:
        // time varies with the machine's load, allocations must not grow.
        thresholds: [
            .wallClock: .init(relative: [.p90: 35]),
            .throughput: .init(relative: [.p90: 35]),
            .mallocCountTotal: .init(relative: [.p90: 0], absolute: [.p90: 2]),
        ]
    )

    let body = Fixture.standardBatch
    let gzip = body.withUnsafeBytes { Gzip.compress($0) }
    let scanner = BatchScanner()
    let scanned = body.withUnsafeBytes { try! scanner.scan($0, route: .batch) }
    precondition(scanned.events.count == 100 && scanned.events.allSatisfy { $0.defect == nil })

    Benchmark("Scan a 100-event batch") { benchmark in
        for _ in benchmark.scaledIterations {
            body.withUnsafeBytes { blackHole(try! scanner.scan($0, route: .batch)) }
        }
    }

    Benchmark("Inflate a 100-event batch (gzip)") { benchmark in
        for _ in benchmark.scaledIterations {
            gzip.withUnsafeBytes { blackHole(try! Inflater.inflate($0, coding: .gzip, limit: 1 << 20, using: .libdeflate)) }
        }
    }

    // The same with zlib alone (`ingress.inflater: zlib`, or a host without libdeflate0).
    Benchmark("Inflate a 100-event batch (gzip, zlib)") { benchmark in
        for _ in benchmark.scaledIterations {
            gzip.withUnsafeBytes { blackHole(try! Inflater.inflate($0, coding: .gzip, limit: 1 << 20, using: .zlib)) }
        }
    }

    // What the enforcer does per event once the cache is warm: read the ids in place, look the subjects
    // up under one lock, compare each stamp with the truth by mask.
    let policy = ConsentPolicy()
    let resolver = Fixture.resolver()
    Benchmark(
        "Decide 100 verdicts (warm cache)",
        configuration: .init(setup: {
            for i in 0..<100 { _ = await resolver.resolve(subject: Fixture.subject(i)) }
        })
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            let (forwarded, unanswered) = body.withUnsafeBytes {
                decideEventsByMask(scanned: scanned, body: $0, resolver: resolver, policy: policy)
            }
            precondition(forwarded == 100 && unanswered == 0, "every event of the fixture is consistent with its cached truth")
            blackHole(forwarded)
        }
    }

    var dropOne = [BatchEncoder.EventEdit](repeating: .keep, count: 100)
    dropOne[50] = .drop
    let dropEdits = dropOne
    Benchmark("Re-encode a batch with one event dropped") { benchmark in
        for _ in benchmark.scaledIterations {
            body.withUnsafeBytes { blackHole(BatchEncoder.encode(body: $0, request: scanned, edits: dropEdits)) }
        }
    }

    Benchmark("Re-encode a batch with one event dropped, gzip again") { benchmark in
        for _ in benchmark.scaledIterations {
            body.withUnsafeBytes { bytes in
                let encoded = BatchEncoder.encode(body: bytes, request: scanned, edits: dropEdits)!
                blackHole(encoded.withUnsafeBytes { Gzip.compress($0, level: 1, using: .libdeflate) })  // upstream.gzip_level's default
            }
        }
    }

    Benchmark("Re-encode a batch with one event dropped, gzip again (zlib)") { benchmark in
        for _ in benchmark.scaledIterations {
            body.withUnsafeBytes { bytes in
                let encoded = BatchEncoder.encode(body: bytes, request: scanned, edits: dropEdits)!
                blackHole(encoded.withUnsafeBytes { Gzip.compress($0, level: 1, using: .zlib) })
            }
        }
    }

    var restampOne = [BatchEncoder.EventEdit](repeating: .keep, count: 100)
    restampOne[50] = .restamp(Fixture.patterns[2])
    let restampEdits = restampOne
    Benchmark("Restamp one event of a batch") { benchmark in
        for _ in benchmark.scaledIterations {
            body.withUnsafeBytes { blackHole(BatchEncoder.encode(body: $0, request: scanned, edits: restampEdits)) }
        }
    }
}
