import ConsentCore
import ConsentStores
import Foundation
import SegmentWire
import Testing
import WireTestSupport

/// Timings of the SQLite store, off by default: `CONSENTGATE_STORE_BENCH=1 swift test -c release --filter Benchmark`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["CONSENTGATE_STORE_BENCH"] == "1"))
struct SQLiteConsentStoreBenchmark {
    /// anonymousId-like subjects in random order: the b-tree's worst case.
    private static func subject(_ random: inout SplitMix64) -> String {
        let hex = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(36)
        for position in 0..<32 {
            if [8, 12, 16, 20].contains(position) { text.append("-") }
            text.append(hex[Int(random.next() & 0xF)])
        }
        return text
    }

    @Test func importAMillionAndLookUp() async throws {
        let count = Int(ProcessInfo.processInfo.environment["CONSENTGATE_STORE_BENCH_COUNT"] ?? "") ?? 1_000_000
        let directory = try TemporaryDirectory()
        let environment = ProcessInfo.processInfo.environment
        var configuration = SQLiteConsentStore.Configuration()
        if let value = environment["BENCH_CACHE_KIB"].flatMap(Int.init) { configuration.pageCacheKiB = value }
        if let value = environment["BENCH_TX"].flatMap(Int.init) { configuration.importTransactionSize = value }
        if let value = environment["BENCH_ROWS"].flatMap(Int.init) { configuration.importRowsPerStatement = value }
        let store = try await openStore(directory.path(), configuration)
        var random = SplitMix64(seed: 7)
        let categories = ["Advertising", "Analytics", "Functional", "Marketing"]
        var generated = (0..<count).map { _ in
            (subject: Self.subject(&random), preferences: categories.map { CategoryPreference(category: $0, granted: random.next() % 2 == 0) })
        }
        if environment["BENCH_SORTED"] == "1" { generated.sort { $0.subject < $1.subject } }
        let records = generated

        let clock = ContinuousClock()
        let fresh = try await clock.measure { _ = try await store.importRecords(records, at: Date()) }
        let again = try await clock.measure { _ = try await store.importRecords(records, at: Date()) }
        func rate(_ duration: Duration) -> Int { Int(Double(count) / (Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)) }
        print("BENCH import \(count) new subjects: \(fresh) (\(rate(fresh)) records/s)")
        print("BENCH import \(count) existing subjects: \(again) (\(rate(again)) records/s)")
        let fileSize = try FileManager.default.attributesOfItem(atPath: directory.path())[.size] as? Int ?? 0
        print("BENCH file size: \(fileSize / 1_048_576) MiB")

        // Sequential lookups: latency of one cache miss.
        var samples: [Duration] = []
        let lookups = 50_000
        samples.reserveCapacity(lookups)
        for index in 0..<lookups {
            let subject = index % 10 == 0 ? "unknown-\(index)" : records[Int(random.next() % UInt64(count))].subject
            let start = clock.now
            let found = try await store.lookup(subject: subject)
            samples.append(start.duration(to: clock.now))
            #expect((found == nil) == (index % 10 == 0))
        }
        samples.sort()
        let micro = { (duration: Duration) in Double(duration.components.attoseconds) / 1e12 + Double(duration.components.seconds) * 1e6 }
        let mean = samples.reduce(Duration.zero, +) / lookups
        print(
            "BENCH sequential lookup: mean \(micro(mean)) µs, p50 \(micro(samples[lookups / 2])) µs, "
                + "p99 \(micro(samples[lookups * 99 / 100])) µs, max \(micro(samples[lookups - 1])) µs"
        )

        // Concurrent lookups: throughput with 16 callers.
        let perTask = 20_000
        let concurrent = try await clock.measure {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for task in 0..<16 {
                    group.addTask {
                        var random = SplitMix64(seed: UInt64(task))
                        for _ in 0..<perTask {
                            _ = try await store.lookup(subject: records[Int(random.next() % UInt64(count))].subject)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        print("BENCH concurrent lookups: \(16 * perTask) in \(concurrent) (\(Int(Double(16 * perTask) / micro(concurrent) * 1e6)) lookups/s)")

        let puts = 5_000
        let putTime = try await clock.measure {
            for index in 0..<puts {
                _ = try await store.put(subject: records[index].subject, preferences: records[index].preferences, at: Date())
            }
        }
        print("BENCH sequential put: mean \(micro(putTime / puts)) µs")
        await store.close()
    }
}
