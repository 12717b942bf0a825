// The per-batch work consentgate does between receiving a body and forwarding it, in a loop, for a
// profiler or a CPU-time comparison of two builds:
//
//   swift build -c release --package-path Benchmarks --product HotPathProfile
//   /usr/bin/time -f %U Benchmarks/.build/release/HotPathProfile 3000        # CPU seconds for 3000 batches
//   /usr/bin/time -f %U Benchmarks/.build/release/HotPathProfile 1000 2000   # ... with a 2 ms sleep before each
//   perf record -e cpu-clock -g Benchmarks/.build/release/HotPathProfile 3000 && perf report
//
// (valgrind 3.19 crashes on Swift binaries on this machine, so callgrind is not an option here.)
// Stages per batch, as in the ingress: inflate (gzip), scan, look the subjects up by their ids' bytes in
// a warm cache (one lock for the batch, as the enforcer does), decide each verdict by mask. The batch
// is the benchmarks' standard one. The optional second argument sleeps that many microseconds before
// each batch: the cost of the same work on a core that has just been idle, as a server's below saturation.
import BenchmarkFixtures
import ConsentCore
import SegmentWire
#if canImport(Glibc)
import Glibc
#endif

@main
struct HotPathProfile {
    static func main() async {
        let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1])! : 200
        let pause = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2])! : 0
        await run(iterations, pauseMicroseconds: pause)
    }

    nonisolated static func run(_ iterations: Int, pauseMicroseconds: Int) async {
        let body = Fixture.standardBatch
        let gzip = body.withUnsafeBytes { Gzip.compress($0) }
        let scanner = BatchScanner()
        let policy = ConsentPolicy()
        let resolver = Fixture.resolver()
        var forwarded = 0
        for _ in 0..<iterations {
            if pauseMicroseconds > 0 { usleep(UInt32(pauseMicroseconds)) }
            let inflated = gzip.withUnsafeBytes { try! Inflater.inflate($0, coding: .gzip, limit: 1 << 20) }
            let (scanned, byMask) = inflated.withUnsafeBytes { bytes in
                let scanned = try! scanner.scan(bytes, route: .batch)
                return (scanned, decideEventsByMask(scanned: scanned, body: bytes, resolver: resolver, policy: policy))
            }
            forwarded += byMask.forwarded
            if byMask.unanswered > 0 {
                // A cold cache (the first batch): the path by name, which asks the store.
                let ids = inflated.withUnsafeBytes { bytes in
                    scanned.events.map { event in
                        (event.userId.map { JSONString.decode($0, in: bytes) }, event.anonymousId.map { JSONString.decode($0, in: bytes) })
                    }
                }
                forwarded = forwarded - byMask.forwarded + (await decideEvents(ids, scanned: scanned, resolver: resolver, policy: policy))
            }
        }
        print("forwarded \(forwarded) of \(iterations * 100) events")
    }
}
