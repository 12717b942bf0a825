import ConsentGate
import Foundation
import Testing

/// `deploy/` against the gateway itself: every configuration key, `CONSENTGATE_*` variable, port and
/// probe path a file names must be one the gateway has; the alert rules pass `promtool`; and every
/// metric an alert rule or a dashboard panel names is one a live gateway's `/metrics` exposes.
///
/// The truth comes from the code: the keys from ``GatewayConfiguration/redactedDescription`` (which
/// lists every key the loader reads), the routes and metrics from a running gateway.
@Suite(.timeLimit(.minutes(3)))
struct DeployTests {
    static let deploy = RepositoryPaths.root + "/deploy"

    /// Every file under `deploy/`, by path relative to it, with its text.
    static let files: [(path: String, text: String)] = {
        let enumerator = FileManager.default.enumerator(atPath: deploy)
        var files: [(String, String)] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: deploy + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            files.append((path, (try? String(contentsOfFile: deploy + "/" + path, encoding: .utf8)) ?? ""))
        }
        return files.sorted { $0.0 < $1.0 }
    }()

    static func file(_ path: String) -> String {
        files.first { $0.path == path }?.text ?? ""
    }

    // MARK: The gateway's truth

    /// Every configuration key, dotted (`store.postgres.url`), from the description of a configuration
    /// with every optional section present.
    static let keys: Set<String> = {
        var configuration = GatewayConfiguration()
        configuration.ingress.tls = .init(certificate: "c", key: "k")
        configuration.store.http.headers = [.init(name: "A", value: "b")]
        return Set(yamlKeyPaths(configuration.redactedDescription).filter(\.isLeaf).map(\.path))
    }()

    static func environmentVariable(of key: String) -> String {
        "CONSENTGATE_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// The configuration of the Kubernetes ConfigMap (the YAML under `consentgate.yaml: |`).
    static let configMapYAML: String = {
        let lines = file("kubernetes/configmap.yaml").split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasSuffix("consentgate.yaml: |") }) else { return "" }
        return lines[(start + 1)...].map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }.joined(separator: "\n")
    }()

    /// The ConfigMap's configuration as the gateway reads it, with the Deployment's secrets set.
    static func deployedConfiguration() async throws -> GatewayConfiguration {
        try await StoreConfigurationTests.load(configMapYAML, environment: [
            "CONSENTGATE_ADMIN_TOKEN": "t", "CONSENTGATE_AUDIT_HMAC_KEY": "k",
            "CONSENTGATE_STORE_POSTGRES_URL": "postgres://consentgate:secret@postgres:5432/consentgate",
        ])
    }

    // MARK: Configuration keys and environment variables

    @Test func theKeyListIsTheSampleConfigurations() {
        // The list the checks below trust is exactly the keys config/consentgate.yaml documents.
        let sample = (try? String(contentsOfFile: RepositoryPaths.root + "/config/consentgate.yaml", encoding: .utf8)) ?? ""
        let documented = Set(Self.yamlKeyPaths(sample).filter(\.isLeaf).map(\.path))
        #expect(documented == Self.keys, "only in the sample: \(documented.subtracting(Self.keys)); only read: \(Self.keys.subtracting(documented))")
        #expect(Self.keys.contains("ingress.inflater") && Self.keys.contains("shutdown.grace_seconds"))
    }

    @Test func theConfigMapIsTheSampleConfigurationAndLoads() async throws {
        let paths = Self.yamlKeyPaths(Self.configMapYAML).filter(\.isLeaf).map(\.path)
        #expect(!paths.isEmpty)
        #expect(Set(paths) == Self.keys, "differs from config/consentgate.yaml: \(Set(paths).symmetricDifference(Self.keys))")
        let configuration = try await Self.deployedConfiguration()
        #expect(configuration.store.kind == .postgres, "three replicas need the shared store")
        #expect(configuration.ingress.host == "0.0.0.0" && configuration.admin.host == "0.0.0.0")
    }

    @Test func everyConfigurationKeyNamedInDeployExists() throws {
        let sections = Set(Self.keys.flatMap { key in
            let parts = key.split(separator: ".")
            return (1..<parts.count).map { parts[..<$0].joined(separator: ".") }
        })
        let pattern = try NSRegularExpression(pattern: #"(?<![\w/.-])((?:ingress|upstream|admin|store|cache|policy|audit|log|shutdown)\.[a-z_]+(?:\.[a-z_]+)*)"#)
        var named = 0
        for (path, text) in Self.files {
            for match in Self.captures(pattern, in: text) {
                let key = match[0]
                named += 1
                #expect(Self.keys.contains(key) || sections.contains(key), "\(path) names `\(key)`, which is no configuration key")
            }
        }
        #expect(named >= 5, "deploy/ should name the keys its secrets and shutdown settle")
    }

    @Test func everyEnvironmentVariableNamedInDeployExists() throws {
        let known = Set(Self.keys.map(Self.environmentVariable))
        let pattern = try NSRegularExpression(pattern: #"\bCONSENTGATE_[A-Z0-9_]+"#)
        var named: Set<String> = []
        for (path, text) in Self.files {
            for match in Self.captures(pattern, in: text, group: 0) {
                named.insert(match[0])
                #expect(known.contains(match[0]), "\(path) names \(match[0]), which sets no configuration key")
            }
        }
        // The three secrets of the issue reach the gateway this way.
        for secret in ["admin.token", "audit.hmac_key", "store.postgres.url"] {
            #expect(Self.file("kubernetes/deployment.yaml").contains("- name: \(Self.environmentVariable(of: secret))"), "\(secret)")
            #expect(named.contains(Self.environmentVariable(of: secret)))
        }
    }

    // MARK: Ports and probes

    @Test func everyPortIsOneTheGatewayListensOn() async throws {
        let configuration = try await Self.deployedConfiguration()
        let ports = [configuration.ingress.port, configuration.admin.port]
        let patterns = [
            #"containerPort:\s*(\d+)"#, #"(?<![\w.-])port:\s*"?(\d+)"#, #"targetPort:\s*"?(\d+)"#, #"prometheus\.io/port:\s*"(\d+)""#,
            #"(?:localhost|127\.0\.0\.1|0\.0\.0\.0):(\d+)"#, #"-p\s+(\d+):\d+"#, #"-p\s+\d+:(\d+)"#,
        ].map { try! NSRegularExpression(pattern: $0) }
        var named = 0
        for (path, text) in Self.files where !path.hasPrefix("grafana/") && !path.hasPrefix("prometheus/") {
            var lines = text
            if path == "kubernetes/configmap.yaml" { lines = "" }  // its ports are the configuration itself
            for pattern in patterns {
                for match in Self.captures(pattern, in: lines) {
                    named += 1
                    #expect(ports.contains(Int(match[0]) ?? -1), "\(path) names port \(match[0]); the gateway listens on \(ports)")
                }
            }
            let exposed = Self.captures(try NSRegularExpression(pattern: #"(?m)^EXPOSE\s+([\d ]+)$"#), in: text).flatMap { $0[0].split(separator: " ") }
            for port in exposed {
                named += 1
                #expect(ports.contains(Int(port) ?? -1), "\(path) exposes \(port); the gateway listens on \(ports)")
            }
        }
        #expect(named >= 6)
        // The named container ports the probes and the Service use are the right numbers.
        let deployment = Self.file("kubernetes/deployment.yaml")
        #expect(deployment.contains("- name: ingress\n              containerPort: \(configuration.ingress.port)"))
        #expect(deployment.contains("- name: admin\n              containerPort: \(configuration.admin.port)"))
    }

    @Test func everyProbeAndScrapePathIsAnAdminRoute() async throws {
        let deployment = Self.file("kubernetes/deployment.yaml")
        #expect(deployment.contains("readinessProbe:\n            httpGet:\n              path: /readyz\n              port: admin"))
        #expect(deployment.contains("livenessProbe:\n            httpGet:\n              path: /healthz\n              port: admin"))
        let pattern = try NSRegularExpression(pattern: #"(?:path:|prometheus\.io/path:)\s*"?(/[\w/.-]*)"#)
        var paths: Set<String> = []
        // The ConfigMap's `path:` keys are file paths of the configuration, not HTTP paths.
        for (path, text) in Self.files
        where (path.hasPrefix("kubernetes/") && path != "kubernetes/configmap.yaml") || path == "Dockerfile" || path.hasPrefix("systemd/") {
            for match in Self.captures(pattern, in: text) { paths.insert(match[0]) }
        }
        #expect(paths.isSuperset(of: ["/readyz", "/healthz", "/metrics"]), "\(paths)")
        try await GatewayHarness.with { harness in
            for path in paths.sorted() {
                let reply = try await harness.send(harness.admin + path, body: nil, headers: [], method: .GET)
                #expect(reply.status == 200, "GET \(path) on the admin port: \(reply.status)")
            }
        }
    }

    @Test func shutdownFitsTheGracePeriod() async throws {
        let grace = try await Self.deployedConfiguration().shutdown.graceSeconds
        let deployment = Self.file("kubernetes/deployment.yaml")
        let period = Double(Self.captures(try NSRegularExpression(pattern: #"terminationGracePeriodSeconds:\s*(\d+)"#), in: deployment).first?[0] ?? "")
        let preStop = Double(Self.captures(try NSRegularExpression(pattern: #"command: \["sleep", "(\d+)"\]"#), in: deployment).first?[0] ?? "")
        let (terminationGrace, sleep) = (try #require(period), try #require(preStop))
        #expect(sleep >= 1, "preStop should let the endpoints drop the pod before SIGTERM")
        #expect(terminationGrace >= sleep + grace + 5, "terminationGracePeriodSeconds \(terminationGrace) < preStop \(sleep) + shutdown.grace_seconds \(grace) + 5")
        let unit = Self.file("systemd/consentgate.service")
        let stop = Double(Self.captures(try NSRegularExpression(pattern: #"TimeoutStopSec=(\d+)"#), in: unit).first?[0] ?? "")
        #expect(try #require(stop) >= grace + 5, "TimeoutStopSec must exceed shutdown.grace_seconds")
    }

    @Test func theManifestsHaveTheirShape() {
        let deployment = Self.file("kubernetes/deployment.yaml")
        #expect(deployment.contains("replicas: 3"))
        for fragment in ["prometheus.io/scrape: \"true\"", "requests:\n              cpu:", "limits:\n", "runAsNonRoot: true", "readOnlyRootFilesystem: true"] {
            #expect(deployment.contains(fragment), "\(fragment)")
        }
        #expect(Self.file("kubernetes/pdb.yaml").contains("kind: PodDisruptionBudget"))
        #expect(Self.file("kubernetes/service.yaml").contains("kind: Service"))
        let kustomization = Self.file("kubernetes/kustomization.yaml")
        for resource in ["configmap.yaml", "deployment.yaml", "service.yaml", "pdb.yaml"] {
            #expect(kustomization.contains("- \(resource)") && !Self.file("kubernetes/" + resource).isEmpty)
        }
        let dockerfile = Self.file("Dockerfile")
        #expect(dockerfile.contains(" AS build") && dockerfile.contains("COPY --from=build"), "multi-stage")
        #expect(dockerfile.contains("USER 10001"), "non-root")
        #expect(!dockerfile.contains("COPY config") && !dockerfile.contains("COPY certs"), "configuration and certificates are mounted, not baked")
    }

    // MARK: Alerts and dashboard

    static var promtool: String? {
        ["/usr/bin/promtool", "/usr/local/bin/promtool"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    @Test func theAlertRulesPassPromtool() throws {
        let promtool = try #require(Self.promtool, "promtool (Debian's prometheus package) is needed; scripts/test.sh installs it")
        let check = TestProcess.run([promtool, "check", "rules", Self.deploy + "/prometheus/alerts.yaml"])
        #expect(check.exitCode == 0, "\(check.output)")
        #expect(check.output.contains("SUCCESS: 8 rules found"), "\(check.output)")
        // promtool resolves rule_files against the working directory: run it in deploy/prometheus.
        let test = TestProcess.run(["/bin/sh", "-c", "cd '\(Self.deploy)/prometheus' && exec '\(promtool)' test rules alerts.test.yaml"])
        #expect(test.exitCode == 0, "\(test.output)")
        let alerts = Self.file("prometheus/alerts.yaml")
        for name in ["ConsentgateUpstreamFailing", "ConsentgateStoreUnavailable", "ConsentgateConsentMismatchesRising",
                     "ConsentgateAuditWriteFailures", "ConsentgateNotReady", "ConsentgateSpoolFull", "ConsentgateSpoolBacklogAging",
                     "ConsentgateDeadLetters"] {
            #expect(alerts.contains("- alert: \(name)"))
            #expect(Self.file("prometheus/alerts.test.yaml").contains("alertname: \(name)"), "\(name) has no promtool test")
        }
    }

    @Test func alertsAndPanelsNameOnlyMetricsTheGatewayExposes() async throws {
        // PromQL of the rules, the rules' tests and the dashboard's panels (and its variable).
        var expressions: [(source: String, text: String)] = [
            ("prometheus/alerts.yaml", Self.file("prometheus/alerts.yaml")),
            ("prometheus/alerts.test.yaml", Self.file("prometheus/alerts.test.yaml")),
        ]
        let dashboard = try #require(
            try JSONSerialization.jsonObject(with: Data(Self.file("grafana/consentgate.json").utf8)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        #expect(panels.count >= 8)
        for panel in panels {
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                expressions.append(("grafana panel '\(panel["title"] ?? "")'", target["expr"] as? String ?? ""))
            }
        }
        for variable in (dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? [] {
            expressions.append(("grafana variable", (variable["definition"] as? String) ?? ""))
        }
        let panelText = expressions.filter { $0.source.hasPrefix("grafana") }.map(\.text).joined(separator: "\n")
        for metric in ["consentgate_events_total", "consentgate_consent_mismatch_total", "consentgate_cache_lookups_total",
                       "consentgate_upstream_request_duration_seconds", "consentgate_store_request_duration_seconds",
                       "consentgate_spool_batches", "consentgate_spool_oldest_batch_age_seconds", "consentgate_delivery_attempts_total",
                       "consentgate_delivery_late_attempts_total"] {
            #expect(panelText.contains(metric), "the dashboard has no panel on \(metric)")
        }

        // Spool mode: it exposes every series relay mode does, and the spool's, which the spool alerts name.
        let spool = SpoolGatewayTests.directory()
        defer { try? FileManager.default.removeItem(atPath: spool) }
        try await GatewayHarness.with(SpoolGatewayTests.spool(spool)) { harness in
            // A request, so the exposition is that of a gateway at work.
            _ = try await harness.post("/v1/batch", json: TestEvents.batch([TestEvents.track()]))
            let scrape = try await harness.send(harness.admin + "/metrics", body: nil, headers: [], method: .GET).body
            let exposed = Self.series(scrape)
            let name = try NSRegularExpression(pattern: #"\bconsentgate_[a-z0-9_]+"#)
            let selector = try NSRegularExpression(pattern: #"\b(consentgate_[a-z0-9_]+)\{([^}]*)\}"#)
            let matcher = try NSRegularExpression(pattern: #"([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)""#)
            var checked = 0
            for (source, text) in expressions {
                for match in Self.captures(name, in: text, group: 0) {
                    checked += 1
                    #expect(exposed[match[0]] != nil, "\(source) names \(match[0]), which /metrics does not expose")
                }
                for match in Self.captures(selector, in: text) {
                    let labels = exposed[match[0]] ?? [:]
                    for pair in Self.captures(matcher, in: match[1]) where pair[1] == "=" || pair[1] == "=~" {
                        let label = pair[0]
                        // `instance` and `job` are Prometheus's target labels, not the gateway's.
                        guard label != "instance", label != "job", !pair[2].hasPrefix("$") else { continue }
                        let values = labels[label]
                        #expect(values != nil, "\(source): \(match[0]) has no label \(label)")
                        for value in (pair[1] == "=" ? [pair[2]] : pair[2].split(separator: "|").map(String.init)) {
                            #expect(values?.contains(value) == true, "\(source): \(match[0]){\(label)=\"\(value)\"} is never exposed (\(values ?? []))")
                        }
                    }
                }
            }
            #expect(checked >= 20)
        }
    }

    // MARK: Helpers

    struct KeyPath {
        var path: String
        var isLeaf: Bool
    }

    /// The key paths of a YAML document of nested mappings (two-space indent, as the configuration is
    /// written); a key with a value on its line is a leaf, one without a section.
    static func yamlKeyPaths(_ yaml: String) -> [KeyPath] {
        var stack: [(indent: Int, key: String)] = []
        var paths: [KeyPath] = []
        for line in yaml.split(separator: "\n") {
            let indent = line.prefix { $0 == " " }.count
            let content = line.dropFirst(indent)
            guard let first = content.first, first != "#", first != "-", let colon = content.firstIndex(of: ":") else { continue }
            let key = String(content[..<colon])
            guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            while let last = stack.last, last.indent >= indent { stack.removeLast() }
            let path = (stack.map(\.key) + [key]).joined(separator: ".")
            var value = content[content.index(after: colon)...]
            if let hash = value.range(of: " #") { value = value[..<hash.lowerBound] }
            let isLeaf = !value.trimmingCharacters(in: .whitespaces).isEmpty
            paths.append(KeyPath(path: path, isLeaf: isLeaf))
            if !isLeaf { stack.append((indent, key)) }
        }
        return paths
    }

    /// The exposition's series names (with `_bucket`, `_sum`, `_count`), each with its labels' values.
    static func series(_ exposition: String) -> [String: [String: Set<String>]] {
        var series: [String: [String: Set<String>]] = [:]
        let label = try! NSRegularExpression(pattern: #"([a-z_]+)="([^"]*)""#)
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            var labels = series[name] ?? [:]
            if let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
                for pair in captures(label, in: String(line[line.index(after: open)..<close])) {
                    labels[pair[0], default: []].insert(pair[1])
                }
            }
            series[name] = labels
        }
        return series
    }

    /// The capture groups of every match (or the whole match, for `group: 0`).
    static func captures(_ pattern: NSRegularExpression, in text: String, group: Int? = nil) -> [[String]] {
        let range = NSRange(text.startIndex..., in: text)
        return pattern.matches(in: text, range: range).map { match in
            let groups = group.map { [$0] } ?? Array(1..<max(match.numberOfRanges, 2))
            return groups.map { index in
                Range(match.range(at: index), in: text).map { String(text[$0]) } ?? ""
            }
        }
    }
}
