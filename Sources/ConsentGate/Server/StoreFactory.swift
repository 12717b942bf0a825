import ConsentCore
import ConsentStores
import Logging

/// Opens the store of record named by `store.kind`.
enum StoreFactory {
    static func open(_ configuration: GatewayConfiguration.Store, logger: Logger) async throws(ConfigurationError) -> any ConsentStore {
        switch configuration.kind {
        case .sqlite:
            do {
                return try await SQLiteConsentStore.open(path: configuration.sqlitePath, logger: logger)
            } catch {
                throw ConfigurationError(key: "store.sqlite.path", "cannot open the SQLite store: \(error)")
            }
        }
    }
}
