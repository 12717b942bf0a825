// Store lookups per 100 events once the cache is warm, under Zipf(s) traffic over N subjects.
//
//   swift run -c release --package-path Benchmarks ZipfLookups [--rate EVENTS_PER_S] [--ttl S]
//       [--subjects N] [--s 1.1] [--capacity C] [--windows W]
//
// Drives the real ConsentResolver (and so the real ConsentCache: LRU, TTL with ±10 % jitter,
// negative entries) as the enforcer does, in batches of 100 events, with a simulated clock: batch k
// happens at 100 k / rate seconds. The store answers
// every subject and counts its lookups. Time is cut into windows one TTL long; the first window
// starts cold, and every later one is "warm". A simulated clock makes the result independent of this
// machine's speed; it depends only on the rate, the TTL, the capacity and the popularity law.
import BenchmarkFixtures
import ConsentCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

struct Options: Sendable {
    var rate = 300_000.0
    var ttl = 300.0
    var subjects = 1_000_000
    var s = 1.1
    var capacity = 1_000_000
    var windows = 3

    init(_ arguments: [String]) {
        var i = 0
        func value() -> String {
            i += 1
            guard i < arguments.count else { fatalError("missing value after \(arguments[i - 1])") }
            return arguments[i]
        }
        while i < arguments.count {
            switch arguments[i] {
            case "--rate": rate = Double(value())!
            case "--ttl": ttl = Double(value())!
            case "--subjects": subjects = Int(value())!
            case "--s": s = Double(value())!
            case "--capacity": capacity = Int(value())!
            case "--windows": windows = Int(value())!
            default: fatalError("unknown option \(arguments[i])")
            }
            i += 1
        }
    }
}

/// The simulated clock: nanoseconds since the start.
final class SimulatedTime: Sendable {
    let nanoseconds = Atomic<Int64>(0)
}

@main
struct ZipfLookups {
    static func main() async {
        await simulate(Options(Array(CommandLine.arguments.dropFirst())))
    }

    /// Off the main actor, so that each resolve does not hop between executors.
    nonisolated static func simulate(_ options: Options) async {
        let simulated = SimulatedTime()
        let start = ContinuousClock.now
        let store = SyntheticStore()
        let resolver = ConsentResolver(
            store: store,
            configuration: ConsentCacheConfiguration(capacity: options.capacity, ttl: .seconds(options.ttl)),
            clock: { start.advanced(by: .nanoseconds(simulated.nanoseconds.load(ordering: .relaxed))) },
            rng: SplitMix64(seed: 42)
        )

        let ids = (0..<options.subjects).map(Fixture.subject)
        let zipf = ZipfSampler(n: options.subjects, s: options.s)
        var rng = SplitMix64(seed: 7)
        // Popularity is not id order: rank r is subject permutation[r].
        var permutation = Array(0..<options.subjects)
        permutation.shuffle(using: &rng)

        let perWindow = Int(options.rate * options.ttl)
        let step = 1e9 / options.rate
        print(
            "ZipfLookups: s=\(options.s) over \(options.subjects) subjects, cache capacity \(options.capacity), TTL \(options.ttl) s (±10 %), "
                + "\(Int(options.rate)) events/s simulated, \(options.windows) windows of \(perWindow) events")
        var event = 0
        var warmLookups = 0
        var warmEvents = 0
        for window in 0..<options.windows {
            let before = store.lookups
            // As the enforcer does: a batch of 100 events asks the cache for all its subjects under one
            // lock, then the store (through the cache, single-flight) for the ones it did not answer.
            var pairs: [(userId: String?, anonymousId: String?)?] = []
            pairs.reserveCapacity(100)
            var done = 0
            while done < perWindow {
                let size = min(100, perWindow - done)
                simulated.nanoseconds.store(Int64(Double(event) * step), ordering: .relaxed)
                pairs.removeAll(keepingCapacity: true)
                for _ in 0..<size { pairs.append((ids[permutation[zipf.draw(&rng)]], nil)) }
                let cached = resolver.cachedOutcomes(pairs)
                for index in 0..<size where cached[index] == nil {
                    _ = await resolver.resolve(userId: pairs[index]!.userId, anonymousId: nil)
                }
                event += size
                done += size
            }
            let lookups = store.lookups - before
            let per100 = Double(lookups) / Double(perWindow) * 100
            print("window \(window + 1)\(window == 0 ? " (cold)" : " (warm)"): \(lookups) store lookups for \(perWindow) events = \(String(format3: per100)) per 100 events; cached \(resolver.statistics.count)")
            if window > 0 {
                warmLookups += lookups
                warmEvents += perWindow
            }
        }
        // Cross-check (renewal theory): a subject drawn at rate r = rate × p(k) is fetched once per
        // TTL + 1/r on average once warm, so lookups per event = Σ_k 1 / (TTL + 1/r_k) / rate.
        var expected = 0.0
        var norm = 0.0
        for k in 1...options.subjects { norm += pow(Double(k), -options.s) }
        for k in 1...options.subjects {
            let r = options.rate * pow(Double(k), -options.s) / norm
            expected += 1 / (options.ttl + 1 / r)
        }
        print("expected once warm (renewal estimate, no evictions): \(String(format3: expected / options.rate * 100)) per 100 events")
        if warmEvents > 0 {
            print("RESULT lookups_per_100_events_warm=\(String(format3: Double(warmLookups) / Double(warmEvents) * 100))")
        }

    }
}

extension String {
    init(format3 value: Double) {
        let scaled = (value * 1000).rounded() / 1000
        self = "\(scaled)"
    }
}
