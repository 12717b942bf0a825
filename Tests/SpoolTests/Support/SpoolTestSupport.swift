import Foundation
import Testing

@testable import Spool

/// A spool directory of its own for each test, removed afterwards.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("consentgate-spool-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// A batch with every field set (or, with `minimal`, every optional one nil), told apart by `n`.
func sampleBatch(_ n: Int, bodyBytes: Int = 64, minimal: Bool = false) -> SpooledBatch {
    SpooledBatch(
        source: minimal ? "" : "web-\(n % 3)",
        path: "/v1/batch",
        authorization: minimal ? nil : "Basic d2stXzEyMzQ6",
        contentType: minimal ? nil : "application/json",
        userAgent: minimal ? nil : "analytics-node/2.1 (é)",
        contentEncoding: minimal ? nil : "gzip",
        forwardedFor: minimal ? nil : "203.0.113.7, 10.0.0.1",
        acceptedAtMilliseconds: 1_700_000_000_000 + Int64(n),
        body: (0..<bodyBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n) }
    )
}

func configuration(_ directory: borrowing TemporaryDirectory, _ adjust: (inout SpoolConfiguration) -> Void = { _ in }) -> SpoolConfiguration {
    var configuration = SpoolConfiguration(directory: directory.path)
    configuration.commitInterval = .milliseconds(1)
    adjust(&configuration)
    return configuration
}

typealias Handed = [(id: SpoolRecordID, batch: SpooledBatch)]

/// `next`, but giving up (cancelling it, which makes it return []) after `timeout`, so that a test that
/// expects records which never come fails instead of hanging.
func next(_ log: SpoolLog, max: Int, timeout: Duration = .seconds(5)) async -> Handed {
    await withTaskGroup(of: Handed?.self) { group in
        group.addTask { await log.next(max: max) }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        var result: Handed = []
        if let first = await group.next(), let records = first {
            result = records
        }
        group.cancelAll()
        return result
    }
}

/// Takes exactly `count` records (or fewer if they stop coming within the timeout).
func take(_ log: SpoolLog, _ count: Int, timeout: Duration = .seconds(5)) async -> Handed {
    var taken: Handed = []
    while taken.count < count {
        let records = await next(log, max: count - taken.count, timeout: timeout)
        if records.isEmpty { break }
        taken += records
    }
    return taken
}

/// True when `next` has nothing to hand out within `wait`.
func nothingWaits(_ log: SpoolLog, wait: Duration = .milliseconds(100)) async -> Bool {
    await next(log, max: 1, timeout: wait).isEmpty
}

func appendAll(_ log: SpoolLog, _ batches: [SpooledBatch]) async throws -> [SpoolRecordID] {
    var ids: [SpoolRecordID] = []
    for batch in batches { ids.append(try await log.append(batch)) }
    return ids
}

func fileBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func names(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

/// Waits (bounded) until `condition` holds, for effects the writer thread performs a little later.
func eventually(_ timeout: Duration = .seconds(5), _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return try condition()
}
