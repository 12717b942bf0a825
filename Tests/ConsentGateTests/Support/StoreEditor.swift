import ConsentStores
import Logging
import SegmentWire

/// Writes to a gateway's SQLite file from outside the gateway, as another process would.
enum StoreEditor {
    static func put(path: String, subject: String, _ preferences: [String: Bool]) async throws {
        let store = try await SQLiteConsentStore.open(path: path, logger: Logger(label: "store-editor"))
        _ = try await store.put(
            subject: subject,
            preferences: preferences.map { CategoryPreference(category: $0.key, granted: $0.value) },
            at: .now)
        await store.close()
    }
}
