import ConsentStores
import FoundationEssentials

extension GatewayConfiguration.Store.Postgres {
    /// Reads `store.postgres.*`; the URL must be set (and valid) when the store is PostgreSQL.
    mutating func read(from values: ConfigValues, required: Bool) throws(ConfigurationError) {
        url = try values.string("store.postgres.url", default: url, isSecret: true).trimmingSpaces
        poolSize = try values.int("store.postgres.pool_size", default: poolSize, in: 1...1_000)
        channel = try values.string("store.postgres.channel", default: channel).trimmingSpaces
        timeoutSeconds = try values.seconds("store.postgres.timeout_seconds", default: timeoutSeconds, in: 0.05...300)
        guard required else { return }
        guard !url.isEmpty else {
            throw ConfigurationError(key: "store.postgres.url", "is required when store.kind is postgres (postgres://user:password@host:5432/database)")
        }
        do {
            _ = try PostgresURL(parsing: url)
        } catch {
            throw ConfigurationError(key: "store.postgres.url", error.reason)
        }
        guard PostgresConsentStore.isValidChannel(channel) else {
            throw ConfigurationError(
                key: "store.postgres.channel", "must be 1 to 40 lower-case letters, digits or '_', not starting with a digit, got '\(channel)'")
        }
    }

    /// The store's settings; call only on a configuration that was read with `required: true`.
    func storeConfiguration() throws(ConfigurationError) -> PostgresConsentStore.Configuration {
        let parsed: PostgresURL
        do {
            parsed = try PostgresURL(parsing: url)
        } catch {
            throw ConfigurationError(key: "store.postgres.url", error.reason)
        }
        return PostgresConsentStore.Configuration(
            url: parsed, poolSize: poolSize, channel: channel,
            operationTimeout: .milliseconds(Int64((timeoutSeconds * 1000).rounded())))
    }
}

extension GatewayConfiguration.Store.HTTP {
    /// Reads `store.http.*`; the URL template must be set (and valid) when the store is HTTP.
    mutating func read(from values: ConfigValues, required: Bool) throws(ConfigurationError) {
        urlTemplate = try values.string("store.http.url_template", default: urlTemplate).trimmingSpaces
        method = try values.string("store.http.method", default: method).trimmingSpaces.uppercased()
        headers = try values.strings("store.http.headers", default: [], isSecret: true).map { line throws(ConfigurationError) in
            guard let colon = line.firstIndex(of: ":") else {
                throw ConfigurationError(key: "store.http.headers", "each entry is \"Name: value\"")
            }
            let name = String(line[..<colon]).trimmingSpaces
            guard !name.isEmpty, !name.contains(" ") else {
                throw ConfigurationError(key: "store.http.headers", "an entry has an empty or invalid header name")
            }
            return GatewayConfiguration.Store.Header(name: name, value: String(line[line.index(after: colon)...]).trimmingSpaces)
        }
        bodyTemplate = try values.string("store.http.body_template", default: bodyTemplate).trimmingSpaces
        preferencesPointer = try values.string("store.http.preferences_pointer", default: preferencesPointer)
        itemKey = try values.string("store.http.item.key", default: itemKey).trimmingSpaces
        itemValue = try values.string("store.http.item.value", default: itemValue).trimmingSpaces
        unknownIfAbsent = try values.choice("store.http.unknown_if_absent", default: unknownIfAbsent ? YesNo.true : .false) == .true
        statusGranted = try values.strings("store.http.status_mapping.granted", default: statusGranted)
        statusDenied = try values.strings("store.http.status_mapping.denied", default: statusDenied)
        timeoutSeconds = try values.seconds("store.http.timeout_seconds", default: timeoutSeconds, in: 0.05...300)
        maxConcurrent = try values.int("store.http.max_concurrent", default: maxConcurrent, in: 1...4_096)
        breakerFailureThreshold = try values.int(
            "store.http.breaker.failure_threshold", default: breakerFailureThreshold, in: 1...10_000)
        breakerOpenSeconds = try values.seconds("store.http.breaker.open_seconds", default: breakerOpenSeconds, in: 0.05...86_400)
        caFile = try values.string("store.http.ca_file", default: caFile)
        guard required else { return }
        guard !urlTemplate.isEmpty else {
            throw ConfigurationError(key: "store.http.url_template", "is required when store.kind is http (https://host/path/{subject})")
        }
        _ = try storeConfiguration()
    }

    /// The store's settings, each value checked and named by its key on failure.
    func storeConfiguration() throws(ConfigurationError) -> HTTPConsentStore.Configuration {
        let template: URLTemplate
        do {
            template = try URLTemplate(urlTemplate, requiresPlaceholder: bodyTemplate.isEmpty)
        } catch {
            throw ConfigurationError(key: "store.http.url_template", error.reason)
        }
        guard !method.isEmpty, method.allSatisfy({ $0.isLetter }) else {
            throw ConfigurationError(key: "store.http.method", "must be an HTTP method such as GET, got '\(method)'")
        }
        let pointer: JSONPointer
        do {
            pointer = try JSONPointer(preferencesPointer)
        } catch {
            throw ConfigurationError(key: "store.http.preferences_pointer", error.reason)
        }
        if !bodyTemplate.isEmpty {
            guard bodyTemplate.contains("\"{subject}\""),
                (try? JSONDecoder().decode(JSONValue.self, from: Data(bodyTemplate.utf8))) != nil
            else {
                throw ConfigurationError(key: "store.http.body_template", "must be a JSON document holding the string \"{subject}\"")
            }
        }
        var keyPointer: JSONPointer?
        do {
            if !itemKey.isEmpty { keyPointer = try JSONPointer(itemKey) }
        } catch {
            throw ConfigurationError(key: "store.http.item.key", error.reason)
        }
        let valuePointer: JSONPointer
        do {
            valuePointer = try JSONPointer(itemValue)
        } catch {
            throw ConfigurationError(key: "store.http.item.value", error.reason)
        }
        let mapping: StatusMapping
        do {
            mapping = try StatusMapping(granted: statusGranted, denied: statusDenied)
        } catch {
            throw ConfigurationError(key: "store.http.status_mapping", error.reason)
        }
        return HTTPConsentStore.Configuration(
            urlTemplate: template,
            method: method,
            headers: headers.map { HTTPConsentStore.Header(name: $0.name, value: $0.value) },
            bodyTemplate: bodyTemplate,
            preferencesPointer: pointer,
            preferencesLayout: PreferencesLayout(itemKey: keyPointer, itemValue: valuePointer),
            unknownIfAbsent: unknownIfAbsent,
            statusMapping: mapping,
            timeout: .milliseconds(Int64((timeoutSeconds * 1000).rounded())),
            maxConcurrent: maxConcurrent,
            breaker: .init(
                failureThreshold: breakerFailureThreshold,
                openDuration: .milliseconds(Int64((breakerOpenSeconds * 1000).rounded()))),
            caFile: caFile.isEmpty ? nil : caFile)
    }
}

extension GatewayConfiguration.Store {
    /// `store.category_aliases` as a list of `"id: name"` (a YAML list, or `CONSENTGATE_STORE_CATEGORY_ALIASES`
    /// comma-separated).
    static func parseAliasList(_ entries: [String]) throws(ConfigurationError) -> [String: String] {
        var result: [String: String] = [:]
        for entry in entries {
            guard let colon = entry.firstIndex(of: ":") else {
                throw ConfigurationError(key: "store.category_aliases", "each entry is \"store id: stamp name\", e.g. \"C0002: Analytics\"")
            }
            result[String(entry[..<colon]).trimmingSpaces] = String(entry[entry.index(after: colon)...]).trimmingSpaces
        }
        return result
    }

    /// Ids and names must be non-empty; returns the map unchanged.
    static func checkedAliases(_ aliases: [String: String]) throws(ConfigurationError) -> [String: String] {
        for (id, name) in aliases.sorted(by: { $0.key < $1.key }) {
            guard !id.trimmingSpaces.isEmpty else {
                throw ConfigurationError(key: "store.category_aliases", "a store category id is empty")
            }
            guard !name.trimmingSpaces.isEmpty else {
                throw ConfigurationError(key: "store.category_aliases.\(id)", "the stamp name is empty")
            }
        }
        return aliases
    }
}

/// A boolean setting as written in YAML or the environment.
enum YesNo: String, CaseIterable {
    case `true`
    case `false`
}
