import ConsentCore

/// A store wrapper that times every lookup for `consentgate_store_request_duration_seconds`.
struct MeasuredConsentStore: ConsentStore {
    let base: any ConsentStore
    let metrics: GatewayMetrics

    var kind: String { base.kind }
    var maxConcurrentLookups: Int { base.maxConcurrentLookups }

    func lookup(subject: String) async throws(ConsentStoreError) -> ConsentRecord? {
        let start = ContinuousClock.now
        do {
            let record = try await base.lookup(subject: subject)
            metrics.storeLookup(outcome: record == nil ? "not_found" : "found", duration: ContinuousClock.now - start)
            return record
        } catch {
            metrics.storeLookup(outcome: "error", duration: ContinuousClock.now - start)
            throw error
        }
    }

    func ping() async throws(ConsentStoreError) { try await base.ping() }
    func close() async { await base.close() }
}
