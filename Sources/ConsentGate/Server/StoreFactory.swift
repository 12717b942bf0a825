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
        case .postgres:
            let settings = try configuration.postgres.storeConfiguration()
            do {
                return try await PostgresConsentStore.open(configuration: settings, logger: logger)
            } catch {
                throw ConfigurationError(key: "store.postgres.url", "cannot open the PostgreSQL store at \(settings.url.redacted): \(error)")
            }
        case .http:
            let settings = try configuration.http.storeConfiguration()
            do {
                return try HTTPConsentStore(configuration: settings, logger: logger)
            } catch {
                throw ConfigurationError(key: "store.http", "cannot set up the HTTP store: \(error)")
            }
        }
    }
}
