import Configuration
import FoundationEssentials
import Yams

/// The configuration file split in two: the sections that are lists of objects (`sources`,
/// `admin.webhooks`), read here with Yams, and everything else, handed to swift-configuration unchanged.
///
/// swift-configuration's YAML reader rejects a whole file when any list holds mappings
/// (`YAMLSnapshot.YAMLConfigError.nonScalarValueInArray`). So the file is parsed once with Yams (which that
/// reader already uses), the two list sections are taken out, and the rest goes to the provider hierarchy
/// as before, environment overrides included. A file without either section reaches swift-configuration
/// byte for byte as written. Each list entry becomes its own `InMemoryProvider`, so the same strict
/// ``ConfigValues`` readers read it.
struct ConfigDocument {
    /// The file without the list sections, as a provider.
    let rest: any ConfigProvider
    /// `sources`: one reader per entry, each named `sources[i]`; `nil` when the key is absent.
    let sources: [ConfigValues]?
    /// `admin.webhooks`: one reader per entry, each named `admin.webhooks[i]`; `nil` when absent.
    let webhooks: [ConfigValues]?
    /// `store.category_aliases` written as a mapping (id: name); `nil` when absent or written as a list
    /// of `"id: name"` strings, which the provider hierarchy reads (and the environment can override).
    let categoryAliases: [String: String]?

    /// The two sections' keys, as written in the file.
    static let sourcesKey = "sources"
    static let webhooksKey = "admin.webhooks"

    /// Parses `text`; `name` names the file in errors.
    init(text: String, name: String) throws(ConfigurationError) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(key: name, "is not valid YAML: \(error)")
        }
        var sources: Node?
        var webhooks: Node?
        var aliases: Node.Mapping?
        // An empty file is a valid (all-defaults) configuration.
        var restText = root == nil ? "{}\n" : text
        if case .mapping(var top)? = root {
            var changed = false
            if let node = top["sources"] {
                sources = node
                top["sources"] = nil
                changed = true
            }
            if case .mapping(var admin)? = top["admin"], let node = admin["webhooks"] {
                webhooks = node
                admin["webhooks"] = nil
                top["admin"] = .mapping(admin)
                changed = true
            }
            if case .mapping(var store)? = top["store"], case .mapping(let mapping)? = store["category_aliases"] {
                aliases = mapping
                store["category_aliases"] = nil
                top["store"] = .mapping(store)
                changed = true
            }
            if changed {
                do {
                    restText = top.isEmpty ? "{}\n" : try Yams.serialize(node: .mapping(top))
                } catch {
                    throw ConfigurationError(key: name, "cannot be re-read without its list sections: \(error)")
                }
            }
        }
        do {
            let data = Data(restText.utf8)
            let snapshot = try YAMLSnapshot(data: data.bytes, providerName: "FileProvider<YAMLSnapshot>", parsingOptions: .default)
            rest = SnapshotProvider(base: snapshot)
        } catch {
            throw ConfigurationError(key: name, "cannot read the configuration file: \(error)")
        }
        self.sources = try sources.map { node throws(ConfigurationError) in try Self.entries(node, key: Self.sourcesKey) }
        self.webhooks = try webhooks.map { node throws(ConfigurationError) in try Self.entries(node, key: Self.webhooksKey) }
        self.categoryAliases = try aliases.map { mapping throws(ConfigurationError) in
            var result: [String: String] = [:]
            for (key, value) in mapping {
                guard let id = key.scalar?.string, let name = value.scalar?.string else {
                    throw ConfigurationError(key: "store.category_aliases", "must map category ids to names, e.g. {C0002: Analytics}")
                }
                result[id] = name
            }
            return result
        }
    }

    /// A list of mappings, each flattened into its own reader. `null` or `[]` is an empty list.
    static func entries(_ node: Node, key: String) throws(ConfigurationError) -> [ConfigValues] {
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "null" || scalar.string == "~" { return [] }
        guard case .sequence(let sequence) = node else {
            throw ConfigurationError(key: key, "must be a list of objects")
        }
        var result: [ConfigValues] = []
        for (index, item) in sequence.enumerated() {
            let path = "\(key)[\(index)]"
            guard case .mapping(let mapping) = item else {
                throw ConfigurationError(key: path, "must be an object (name: ..., ...)")
            }
            var values: [AbsoluteConfigKey: ConfigValue] = [:]
            try flatten(mapping, into: &values, at: [], path: path)
            result.append(ConfigValues(reader: ConfigReader(provider: InMemoryProvider(name: path, values: values)), path: path))
        }
        return result
    }

    /// Scalars become strings and lists of scalars lists of strings, as the YAML reader gives them to
    /// ``ConfigValues``; nested mappings become dotted keys.
    private static func flatten(
        _ mapping: Node.Mapping, into values: inout [AbsoluteConfigKey: ConfigValue], at prefix: [String], path: String
    ) throws(ConfigurationError) {
        for (keyNode, value) in mapping {
            guard let name = keyNode.scalar?.string, !name.isEmpty else {
                throw ConfigurationError(key: path, "has a key that is not a string")
            }
            let components = prefix + [name]
            let fullKey = ([path] + components).joined(separator: ".")
            switch value {
            case .scalar(let scalar):
                // `~`/`null` as a value means "not set", as in the YAML reader.
                if scalar.style == .plain && ["null", "Null", "NULL", "~", ""].contains(scalar.string) { continue }
                values[AbsoluteConfigKey(components)] = ConfigValue(.string(scalar.string), isSecret: false)
            case .sequence(let sequence):
                var strings: [String] = []
                for element in sequence {
                    guard case .scalar(let scalar) = element else {
                        throw ConfigurationError(key: fullKey, "must be a list of values, not of objects or lists")
                    }
                    strings.append(scalar.string)
                }
                values[AbsoluteConfigKey(components)] = ConfigValue(.stringArray(strings), isSecret: false)
            case .mapping(let nested):
                try flatten(nested, into: &values, at: components, path: path)
            case .alias:
                throw ConfigurationError(key: fullKey, "YAML aliases are not supported here")
            }
        }
    }
}

/// A provider over one parsed YAML snapshot: what `FileProvider` does, for text already in memory.
private struct SnapshotProvider: ConfigProvider {
    let base: YAMLSnapshot

    var providerName: String { base.providerName }

    func value(forKey key: AbsoluteConfigKey, type: ConfigType) throws -> LookupResult {
        try base.value(forKey: key, type: type)
    }

    func fetchValue(forKey key: AbsoluteConfigKey, type: ConfigType) async throws -> LookupResult {
        try value(forKey: key, type: type)
    }

    func watchValue<Return: ~Copyable>(
        forKey key: AbsoluteConfigKey,
        type: ConfigType,
        updatesHandler: nonisolated(nonsending) (_ updates: ConfigUpdatesAsyncSequence<Result<LookupResult, any Error>, Never>) async throws -> Return
    ) async throws -> Return {
        try await watchValueFromValue(forKey: key, type: type, updatesHandler: updatesHandler)
    }

    func snapshot() -> any ConfigSnapshot { base }

    func watchSnapshot<Return: ~Copyable>(
        updatesHandler: nonisolated(nonsending) (_ updates: ConfigUpdatesAsyncSequence<any ConfigSnapshot, Never>) async throws -> Return
    ) async throws -> Return {
        try await watchSnapshotFromSnapshot(updatesHandler: updatesHandler)
    }
}
