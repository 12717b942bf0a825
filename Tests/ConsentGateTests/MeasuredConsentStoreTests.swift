import ConsentCore
import Testing

@testable import ConsentGate

/// ``MeasuredConsentStore`` is transparent: the store it wraps answers, and its bound passes through.
@Suite struct MeasuredConsentStoreTests {
    struct BoundedStore: ConsentStore {
        let kind = "bounded"
        let maxConcurrentLookups: Int
        func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? { nil }
        func ping() async throws(ConsentStoreError) {}
        func close() async {}
    }

    @Test func passesTheStoresBoundOn() async throws {
        let measured = MeasuredConsentStore(base: BoundedStore(maxConcurrentLookups: 32), metrics: GatewayMetrics(categories: []))
        #expect(measured.maxConcurrentLookups == 32)
        #expect(measured.kind == "bounded")
        #expect(try await measured.lookup(subject: "someone") == nil)
    }
}
