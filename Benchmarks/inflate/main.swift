// Inflate and re-gzip of a 100-event batch on both libraries (compiled with SegmentWire's sources, -O).
#if canImport(Glibc)
import Glibc
#endif

func batch() -> [UInt8] {
    var state: UInt64 = 42
    func hex(_ n: Int) -> String {
        var s = ""
        for _ in 0..<n { state = state &* 6364136223846793005 &+ 1442695040888963407; s += String(Int(state >> 60), radix: 16) }
        return s
    }
    func uuid() -> String { "\(hex(8))-\(hex(4))-\(hex(4))-\(hex(4))-\(hex(12))" }
    var events: [String] = []
    for i in 0..<100 {
        events.append(#"{"type":"track","event":"Product Viewed","messageId":"\#(uuid())","userId":"\#(uuid())","anonymousId":"\#(uuid())","timestamp":"2026-11-29T12:00:\#(i % 60 < 10 ? "0" : "")\#(i % 60).000Z","properties":{"product_id":"p-\#(i)","sku":"SKU-\#(hex(6))","category":"Games","name":"Monopoly: 3rd Edition","brand":"Hasbro","variant":"200 pieces","price":18.99,"quantity":1,"currency":"USD","position":3,"value":18.99},"context":{"library":{"name":"analytics.js","version":"5.2.0"},"ip":"203.0.113.\#(i)","locale":"en-US","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36","page":{"path":"/products/\#(i)","url":"https://shop.example.com/products/\#(i)","title":"Monopoly"},"consent":{"categoryPreferences":{"Advertising":false,"Analytics":true,"Functional":true,"DataSharing":false}}}}"#)
    }
    return Array(#"{"batch":[\#(events.joined(separator: ","))],"sentAt":"2026-11-29T12:00:01.000Z","writeKey":"wk"}"#.utf8)
}

func now() -> UInt64 { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec) }

let body = batch()
let gz = body.withUnsafeBytes { Gzip.compress($0, level: 6, using: .libdeflate) }
print("batch: \(body.count) B JSON, \(gz.count) B gzip; libdeflate loaded: \(DeflateLibrary.isLibDeflateAvailable)")
let rounds = Int(CommandLine.arguments.dropFirst().first ?? "5") ?? 5
let iterations = 2_000
var sink = 0
for round in 1...rounds {
    for library in DeflateLibrary.allCases {
        var samples: [Double] = []
        for _ in 0..<iterations {
            let start = now()
            let out = gz.withUnsafeBytes { try! Inflater.inflate($0, coding: .gzip, limit: 1 << 20, using: library) }
            samples.append(Double(now() - start) / 1000)
            sink &+= out.count
        }
        samples.sort()
        var gzipSamples: [Double] = []
        for _ in 0..<300 {
            let start = now()
            let out = body.withUnsafeBytes { Gzip.compress($0, level: 1, using: library) }
            gzipSamples.append(Double(now() - start) / 1000)
            sink &+= out.count
        }
        gzipSamples.sort()
        let size = body.withUnsafeBytes { Gzip.compress($0, level: 1, using: library) }.count
        print("round \(round) \(library.rawValue): inflate p0 \(Int(samples[0])) µs p50 \(Int(samples[iterations / 2])) µs p90 \(Int(samples[iterations * 9 / 10])) µs | gzip level 1 p50 \(Int(gzipSamples[150])) µs p90 \(Int(gzipSamples[270])) µs, \(size) B")
    }
}
if sink == 42 { print(sink) }
