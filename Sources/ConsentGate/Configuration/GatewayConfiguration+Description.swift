import ConsentStores
import FoundationEssentials

extension GatewayConfiguration {
    /// The effective configuration as YAML, with secrets (admin token, HMAC key, write keys,
    /// the PostgreSQL password, HTTP store header values) redacted.
    public var redactedDescription: String {
        func secret(_ value: String) -> String { value.isEmpty ? "\"\"" : "\"<redacted>\"" }
        func list(_ values: [String]) -> String { "[" + values.map { quoted($0) }.joined(separator: ", ") + "]" }
        func quoted(_ value: String) -> String {
            "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var lines: [String] = []
        lines.append("ingress:")
        lines.append("  host: \(quoted(ingress.host))")
        lines.append("  port: \(ingress.port)")
        if let tls = ingress.tls {
            lines.append("  tls:")
            lines.append("    certificate: \(quoted(tls.certificate))")
            lines.append("    key: \(quoted(tls.key))")
        } else {
            lines.append("  tls: null")
        }
        lines.append("  write_keys: \(ingress.writeKeys.isEmpty ? "[]" : "[<\(ingress.writeKeys.count) redacted>]")")
        lines.append("  max_body_bytes: \(ingress.maxBodyBytes)")
        lines.append("  cors_allowed_origins: \(list(ingress.corsAllowedOrigins))")
        lines.append("  header_timeout_seconds: \(ingress.headerTimeoutSeconds)")
        lines.append("  body_timeout_seconds: \(ingress.bodyTimeoutSeconds)")
        lines.append("  max_connections: \(ingress.maxConnections)")
        lines.append("  max_inflight_requests: \(ingress.maxInflightRequests)")
        lines.append("  inflater: \(ingress.inflater.rawValue)")
        lines.append("  trusted_proxies: \(list(ingress.trustedProxies.map(\.description)))")
        lines.append("  client_ip:")
        lines.append("    fill: \(ingress.clientIPFill.rawValue)")
        lines.append("upstream:")
        lines.append("  url: \(quoted(upstream.url))")
        lines.append("  ca_file: \(quoted(upstream.caFile))")
        lines.append("  timeout_seconds: \(upstream.timeoutSeconds)")
        lines.append("  connect_timeout_seconds: \(upstream.connectTimeoutSeconds)")
        lines.append("  max_connections: \(upstream.maxConnections)")
        lines.append("  retry_after_seconds: \(upstream.retryAfterSeconds)")
        lines.append("  gzip_level: \(upstream.gzipLevel)")
        lines.append("admin:")
        lines.append("  host: \(quoted(admin.host))")
        lines.append("  port: \(admin.port)")
        lines.append("  token: \(secret(admin.token))")
        lines.append(contentsOf: webhooksDescription)
        lines.append("store:")
        lines.append("  kind: \(store.kind.rawValue)")
        lines.append("  request_deadline_seconds: \(store.requestDeadlineSeconds)")
        lines.append("  sqlite:")
        lines.append("    path: \(quoted(store.sqlitePath))")
        lines.append("  postgres:")
        lines.append("    url: \(quoted(Self.redactedPostgresURL(store.postgres.url)))")
        lines.append("    pool_size: \(store.postgres.poolSize)")
        lines.append("    channel: \(quoted(store.postgres.channel))")
        lines.append("    timeout_seconds: \(store.postgres.timeoutSeconds)")
        lines.append("  http:")
        lines.append("    url_template: \(quoted(store.http.urlTemplate))")
        lines.append("    method: \(store.http.method)")
        lines.append("    headers: " + (store.http.headers.isEmpty ? "[]" : list(store.http.headers.map { "\($0.name): <redacted>" })))
        lines.append("    body_template: \(quoted(store.http.bodyTemplate))")
        lines.append("    preferences_pointer: \(quoted(store.http.preferencesPointer))")
        lines.append("    item:")
        lines.append("      key: \(quoted(store.http.itemKey))")
        lines.append("      value: \(quoted(store.http.itemValue))")
        lines.append("    unknown_if_absent: \(store.http.unknownIfAbsent)")
        lines.append("    status_mapping:")
        lines.append("      granted: \(list(store.http.statusGranted))")
        lines.append("      denied: \(list(store.http.statusDenied))")
        lines.append("    timeout_seconds: \(store.http.timeoutSeconds)")
        lines.append("    max_concurrent: \(store.http.maxConcurrent)")
        lines.append("    breaker:")
        lines.append("      failure_threshold: \(store.http.breakerFailureThreshold)")
        lines.append("      open_seconds: \(store.http.breakerOpenSeconds)")
        lines.append("    ca_file: \(quoted(store.http.caFile))")
        if store.categoryAliases.isEmpty {
            lines.append("  category_aliases: {}")
        } else {
            lines.append("  category_aliases:")
            for (id, name) in store.categoryAliases.sorted(by: { $0.key < $1.key }) {
                lines.append("    \(quoted(id)): \(quoted(name))")
            }
        }
        lines.append("cache:")
        lines.append("  capacity: \(cache.capacity)")
        lines.append("  ttl_seconds: \(cache.ttlSeconds)")
        lines.append("  negative_ttl_seconds: \(cache.negativeTTLSeconds)")
        lines.append("  max_stale_grant_seconds: \(cache.maxStaleGrantSeconds)")
        lines.append("policy:")
        lines.append(contentsOf: Self.policyLines(policy).map { "  " + $0 })
        lines.append(contentsOf: sourcesDescription)
        lines.append(contentsOf: browser.descriptionLines)
        lines.append("audit:")
        lines.append("  path: \(quoted(audit.path))")
        lines.append("  hmac_key: \(secret(audit.hmacKey))")
        lines.append("log:")
        lines.append("  level: \(log.level)")
        lines.append("  format: \(log.format.rawValue)")
        lines.append("shutdown:")
        lines.append("  grace_seconds: \(shutdown.graceSeconds)")
        lines.append("privacy:")
        lines.append("  ip: \(privacy.ip.rawValue)")
        lines.append(contentsOf: delivery.descriptionLines)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The URL without its password; an unreadable URL is redacted whole (it may hold one).
    private static func redactedPostgresURL(_ url: String) -> String {
        guard !url.isEmpty else { return "" }
        return (try? PostgresURL(parsing: url))?.redacted ?? "<redacted: not a valid postgres:// URL>"
    }
}
