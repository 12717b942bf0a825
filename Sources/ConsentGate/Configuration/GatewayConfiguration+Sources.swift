import ConsentCore
import FoundationEssentials

extension GatewayConfiguration {
    /// One entry of `sources`: the traffic of some write keys, with its own policy and upstream.
    ///
    /// ```yaml
    /// sources:
    ///   - name: eu-web                       # metric label, audit and debugger name; never the write key
    ///     write_keys: [KEY_EU]
    ///     policy: {on_unknown_subject: drop}  # any policy key; the rest is the top-level policy
    ///     upstream: {url: https://events.eu1.segmentapis.com}
    /// ```
    ///
    /// The values held here are the *effective* ones: ``policy`` is the top-level policy with this source's
    /// keys applied, and ``upstreamURL`` is the top-level `upstream.url` unless the source names its own.
    public struct Source: Sendable, Hashable {
        /// `name`: 1 to 64 of `A-Z a-z 0-9 _ . -`; unique; ``defaultName`` is reserved.
        public var name: String
        /// `write_keys`: at least one; a key belongs to one source at most. Secrets.
        public var writeKeys: [String]
        /// The effective policy.
        public var policy: Policy
        /// The effective upstream URL.
        public var upstreamURL: String
        /// The policy keys this source sets itself (as written, e.g. `on_mismatch`), for `check-config`.
        public var overriddenPolicyKeys: [String]

        /// The name of the settings a write key in no source takes: the top-level ones.
        public static let defaultName = "default"

        public init(name: String, writeKeys: [String], policy: Policy, upstreamURL: String, overriddenPolicyKeys: [String] = []) {
            self.name = name
            self.writeKeys = writeKeys
            self.policy = policy
            self.upstreamURL = upstreamURL
            self.overriddenPolicyKeys = overriddenPolicyKeys
        }
    }

    /// The settings of write keys in no source: the top-level policy and upstream, under ``Source/defaultName``.
    public var defaultSource: Source {
        Source(name: Source.defaultName, writeKeys: ingress.writeKeys, policy: policy, upstreamURL: upstream.url)
    }

    /// The write keys let through: the union of `ingress.write_keys` and every source's keys, in order of
    /// first appearance. Empty (neither lists any key) accepts any write key, as before sources existed.
    public var allowedWriteKeys: [String] {
        var seen: Set<String> = []
        return (ingress.writeKeys + sources.flatMap(\.writeKeys)).filter { seen.insert($0).inserted }
    }

    /// Every policy key a source may set, relative to `policy`.
    static let policyKeys = [
        "mode", "compare", "on_mismatch", "on_missing_stamp", "on_unknown_subject", "on_store_unavailable", "gpc_categories",
        "preference_updates", "categories",
    ]

    /// Reads `sources` (one reader per entry) on top of the already-read top-level settings, then checks
    /// what spans entries: a duplicate name, a write key in two sources (naming both, never the key).
    static func readSources(_ entries: [ConfigValues], over config: GatewayConfiguration) throws(ConfigurationError) -> [Source] {
        var sources: [Source] = []
        var firstByName: [String: Int] = [:]
        var ownerByKey: [String: Int] = [:]
        for (index, values) in entries.enumerated() {
            let source = try readSource(values, over: config)
            if source.name == Source.defaultName {
                throw ConfigurationError(
                    key: values.fullKey("name"), "'\(Source.defaultName)' is reserved for write keys in no source (the top-level settings)")
            }
            if let first = firstByName[source.name] {
                throw ConfigurationError(key: values.fullKey("name"), "'\(source.name)' is already the name of sources[\(first)]")
            }
            firstByName[source.name] = index
            for key in source.writeKeys {
                if let owner = ownerByKey[key], owner != index {
                    throw ConfigurationError(
                        key: values.fullKey("write_keys"),
                        "a write key of source '\(source.name)' (sources[\(index)]) is also a write key of source "
                            + "'\(sources[owner].name)' (sources[\(owner)]); a write key belongs to one source")
                }
                ownerByKey[key] = index
            }
            sources.append(source)
        }
        return sources
    }

    private static func readSource(_ values: ConfigValues, over config: GatewayConfiguration) throws(ConfigurationError) -> Source {
        let name = try values.string("name", default: "").trimmingSpaces
        guard !name.isEmpty else {
            throw ConfigurationError(key: values.fullKey("name"), "is required: the source's name in metrics, audit records and the debugger")
        }
        guard name.utf8.count <= 64, name.utf8.allSatisfy(isNameByte) else {
            throw ConfigurationError(key: values.fullKey("name"), "must be 1 to 64 of A-Z a-z 0-9 _ . -, got '\(name.prefix(64))'")
        }
        let writeKeys = try values.strings("write_keys", default: [], isSecret: true)
        guard !writeKeys.isEmpty else {
            throw ConfigurationError(key: values.fullKey("write_keys"), "must list at least one write key")
        }
        var policy = config.policy
        try policy.read(from: values.scoped(to: "policy"))
        let policyValues = values.scoped(to: "policy")
        let overridden = policyKeys.filter { policyValues.isSet($0) }
        var upstreamURL = try values.string("upstream.url", default: "").trimmingSpaces
        if upstreamURL.isEmpty {
            upstreamURL = config.upstream.url
        } else if UpstreamEndpoint(url: upstreamURL) == nil {
            throw ConfigurationError(
                key: values.fullKey("upstream.url"), "must be http(s)://host[:port] with no path, query or fragment, got '\(upstreamURL)'")
        }
        return Source(name: name, writeKeys: writeKeys, policy: policy, upstreamURL: upstreamURL, overriddenPolicyKeys: overridden)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// `check-config`'s `sources:` section: each source's effective policy and upstream; write keys redacted.
    var sourcesDescription: [String] {
        guard !sources.isEmpty else { return ["sources: []"] }
        var lines = ["sources:                # effective settings: the top-level ones with each source's own keys"]
        for source in sources {
            lines.append("  - name: \(source.name)")
            lines.append("    write_keys: [<\(source.writeKeys.count) redacted>]")
            lines.append("    upstream:")
            lines.append("      url: \(Self.yamlQuoted(source.upstreamURL))\(source.upstreamURL == upstream.url ? "" : "   # own")")
            lines.append("    policy:")
            for line in Self.policyLines(source.policy) {
                let key = String(line.prefix(while: { $0 != ":" }))
                lines.append("      \(line)\(source.overriddenPolicyKeys.contains(key) ? "   # own" : "")")
            }
        }
        return lines
    }

    /// The policy's keys as YAML lines (no indent), shared by the top-level `policy:` and each source.
    static func policyLines(_ policy: Policy) -> [String] {
        func list(_ values: [String]) -> String { "[" + values.map(yamlQuoted).joined(separator: ", ") + "]" }
        return [
            "mode: \(policy.rules.mode.rawValue)",
            "compare: \(policy.rules.compare.rawValue)",
            "on_mismatch: \(policy.rules.onMismatch.rawValue)",
            "on_missing_stamp: \(policy.rules.onMissingStamp.rawValue)",
            "on_unknown_subject: \(policy.rules.onUnknownSubject.rawValue)",
            "on_store_unavailable: \(policy.rules.onStoreUnavailable.rawValue)",
            "gpc_categories: \(list(policy.rules.gpcCategories))",
            "preference_updates: \(policy.rules.preferenceUpdates.rawValue)",
            "categories: \(list(policy.categories))",
        ]
    }
}

extension GatewayConfiguration {
    /// A YAML double-quoted string.
    static func yamlQuoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
