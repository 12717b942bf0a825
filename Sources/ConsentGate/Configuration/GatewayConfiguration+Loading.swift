import ClientAddress
public import Configuration
import ConsentStores
import FoundationEssentials
import SystemPackage

extension GatewayConfiguration {
    /// Reads a YAML file, with every key overridable by an environment variable named
    /// `CONSENTGATE_` + the key path in upper snake case (`upstream.url` → `CONSENTGATE_UPSTREAM_URL`).
    public static func load(
        file: String,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(ConfigurationError) -> GatewayConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigurationError(key: file, "cannot read the configuration file: \(error)")
        }
        return try load(yaml: text, name: file, environment: environment)
    }

    /// Reads configuration text as ``load(file:environment:)`` reads a file; `name` names it in errors.
    public static func load(
        yaml text: String,
        name: String = "configuration",
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> GatewayConfiguration {
        let document = try ConfigDocument(text: text, name: name)
        let prefixed = environment.filter { $0.key.uppercased().hasPrefix("CONSENTGATE_") }
        let env = KeyMappingProvider(upstream: EnvironmentVariablesProvider(environmentVariables: prefixed)) { key in
            key.prepending(["consentgate"])
        }
        var config = try load(reader: ConfigReader(providers: [env, document.rest]))
        if config.store.categoryAliases.isEmpty, let aliases = document.categoryAliases {
            config.store.categoryAliases = try Store.checkedAliases(aliases)
        }
        config.sources = try readSources(document.sources ?? [], over: config)
        config.admin.webhooks = try readWebhooks(document.webhooks ?? [])
        return config
    }

    /// Reads and validates every key; the first bad value throws, naming its key.
    public static func load(reader: ConfigReader) throws(ConfigurationError) -> GatewayConfiguration {
        let values = ConfigValues(reader: reader)
        var config = GatewayConfiguration()

        config.ingress.host = try values.string("ingress.host", default: config.ingress.host)
        config.ingress.port = try values.int("ingress.port", default: config.ingress.port, in: 0...65535)
        let certificate = try values.string("ingress.tls.certificate", default: "")
        let key = try values.string("ingress.tls.key", default: "")
        switch (certificate.isEmpty, key.isEmpty) {
        case (true, true): config.ingress.tls = nil
        case (false, false): config.ingress.tls = TLSFiles(certificate: certificate, key: key)
        case (true, false): throw ConfigurationError(key: "ingress.tls.certificate", "is required when ingress.tls.key is set")
        case (false, true): throw ConfigurationError(key: "ingress.tls.key", "is required when ingress.tls.certificate is set")
        }
        config.ingress.writeKeys = try values.strings("ingress.write_keys", default: [], isSecret: true)
        config.ingress.maxBodyBytes = try values.int(
            "ingress.max_body_bytes", default: config.ingress.maxBodyBytes, in: (64 * 1024)...(64 << 20))
        config.ingress.corsAllowedOrigins = try values.strings("ingress.cors_allowed_origins", default: ["*"])
        config.ingress.headerTimeoutSeconds = try values.seconds(
            "ingress.header_timeout_seconds", default: config.ingress.headerTimeoutSeconds, in: 0.1...3600)
        config.ingress.bodyTimeoutSeconds = try values.seconds(
            "ingress.body_timeout_seconds", default: config.ingress.bodyTimeoutSeconds, in: 0.1...3600)
        config.ingress.maxConnections = try values.int("ingress.max_connections", default: config.ingress.maxConnections, in: 1...1_000_000)
        config.ingress.maxInflightRequests = try values.int(
            "ingress.max_inflight_requests", default: config.ingress.maxInflightRequests, in: 1...1_000_000)
        config.ingress.inflater = try values.choice("ingress.inflater", default: config.ingress.inflater)
        config.ingress.trustedProxies = try values.strings("ingress.trusted_proxies", default: []).map { (text) throws(ConfigurationError) -> IPNetwork in
            guard let network = IPNetwork(text) else {
                throw ConfigurationError(key: "ingress.trusted_proxies", "'\(text)' is not an address or a CIDR block (e.g. 10.0.0.0/8, fd00::/8)")
            }
            return network
        }
        config.ingress.clientIPFill = try values.choice("ingress.client_ip.fill", default: config.ingress.clientIPFill)
        config.privacy.ip = try values.choice("privacy.ip", default: config.privacy.ip)
        guard config.ingress.maxBodyBytes >= config.ingress.limits.maxBatchBytes else {
            throw ConfigurationError(key: "ingress.max_body_bytes", "must be at least Segment's batch limit (\(config.ingress.limits.maxBatchBytes) bytes)")
        }

        config.upstream.url = try values.string("upstream.url", default: config.upstream.url).trimmingSpaces
        guard let endpoint = UpstreamEndpoint(url: config.upstream.url) else {
            throw ConfigurationError(
                key: "upstream.url", "must be http(s)://host[:port] with no path, query or fragment, got '\(config.upstream.url)'")
        }
        _ = endpoint
        config.upstream.caFile = try values.string("upstream.ca_file", default: "")
        config.upstream.timeoutSeconds = try values.seconds("upstream.timeout_seconds", default: config.upstream.timeoutSeconds, in: 0.05...300)
        config.upstream.connectTimeoutSeconds = try values.seconds(
            "upstream.connect_timeout_seconds", default: config.upstream.connectTimeoutSeconds, in: 0.05...300)
        config.upstream.maxConnections = try values.int("upstream.max_connections", default: config.upstream.maxConnections, in: 1...4096)
        config.upstream.retryAfterSeconds = try values.int("upstream.retry_after_seconds", default: config.upstream.retryAfterSeconds, in: 0...3600)
        config.upstream.gzipLevel = try values.int("upstream.gzip_level", default: config.upstream.gzipLevel, in: 1...12)

        config.admin.host = try values.string("admin.host", default: config.admin.host)
        config.admin.port = try values.int("admin.port", default: config.admin.port, in: 0...65535)
        config.admin.token = try values.string("admin.token", default: "", isSecret: true)

        config.store.kind = try values.choice("store.kind", default: config.store.kind)
        config.store.sqlitePath = try values.string("store.sqlite.path", default: config.store.sqlitePath)
        config.store.requestDeadlineSeconds = try values.seconds(
            "store.request_deadline_seconds", default: config.store.requestDeadlineSeconds, in: 0.01...300)
        if config.store.kind == .sqlite, config.store.sqlitePath.isEmpty {
            throw ConfigurationError(key: "store.sqlite.path", "must name a file when store.kind is sqlite")
        }
        try config.store.postgres.read(from: values, required: config.store.kind == .postgres)
        try config.store.http.read(from: values, required: config.store.kind == .http)
        config.store.categoryAliases = try Store.checkedAliases(
            Store.parseAliasList(values.strings("store.category_aliases", default: [])))

        config.cache.capacity = try values.int("cache.capacity", default: config.cache.capacity, in: 1...100_000_000)
        config.cache.ttlSeconds = try values.seconds("cache.ttl_seconds", default: config.cache.ttlSeconds, in: 0.001...86_400)
        config.cache.negativeTTLSeconds = try values.seconds(
            "cache.negative_ttl_seconds", default: config.cache.negativeTTLSeconds, in: 0...86_400)
        config.cache.maxStaleGrantSeconds = try values.seconds(
            "cache.max_stale_grant_seconds", default: config.cache.maxStaleGrantSeconds, in: 0...86_400)

        try config.policy.read(from: values.scoped(to: "policy"))

        try config.browser.read(from: values.scoped(to: "browser"))

        config.audit.path = try values.string("audit.path", default: config.audit.path)
        config.audit.hmacKey = try values.string("audit.hmac_key", default: "", isSecret: true)

        config.log.level = try values.string("log.level", default: config.log.level).lowercased()
        guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(config.log.level) else {
            throw ConfigurationError(key: "log.level", "must be one of trace | debug | info | notice | warning | error | critical, got '\(config.log.level)'")
        }
        config.log.format = try values.choice("log.format", default: config.log.format)

        config.shutdown.graceSeconds = try values.seconds("shutdown.grace_seconds", default: config.shutdown.graceSeconds, in: 0...600)
        try config.delivery.read(from: values.scoped(to: "delivery"))
        return config
    }
}
