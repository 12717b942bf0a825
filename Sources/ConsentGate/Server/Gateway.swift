import ClientAddress
public import Logging
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import NIOSSL
import ServiceLifecycle
import ConsentCore
import SegmentWire
import Spool

/// The addresses a running gateway listens on (useful with port 0).
public struct GatewayAddresses: Sendable, Hashable {
    public var ingressPort: Int
    public var adminPort: Int
}

/// A configured gateway: the ingress and admin listeners, the upstream client and the consent
/// store, run as one `ServiceGroup` that shuts down in reverse order of start on SIGTERM/SIGINT
/// (listeners first, so in-flight requests finish while the client and the store still serve them).
public struct Gateway: Sendable {
    public let configuration: GatewayConfiguration
    public let logger: Logger

    public init(configuration: GatewayConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until a shutdown signal (when `handleSignals`) or until the calling task is cancelled.
    /// `onListening` is called once both listeners are bound.
    public func run(
        handleSignals: Bool = true,
        onListening: @escaping @Sendable (GatewayAddresses) -> Void = { _ in }
    ) async throws {
        // Resources that need an explicit close are made last-to-fail first, so a bad setting never
        // leaves one unclosed (an unclosed HTTPClient or SQLite connection traps in its deinit).
        let ingressServer = try ingressServerBuilder()
        let deflateLibrary = try configuration.ingress.inflater.resolve()
        let audit = configuration.audit.path.isEmpty ? nil : try AuditLog(path: configuration.audit.path)
        let store: any ConsentStore
        do {
            store = try await StoreFactory.open(configuration.store, logger: logger)
        } catch {
            audit?.close()
            throw error
        }
        // Every source's effective settings, the top-level ones (`default`) first.
        let sourceSettings = [configuration.defaultSource] + configuration.sources
        let forwarders: UpstreamForwarders
        do {
            forwarders = try await UpstreamForwarders.open(urls: sourceSettings.map(\.upstreamURL), upstream: configuration.upstream)
        } catch {
            audit?.close()
            await store.close()
            throw error
        }
        // `delivery.mode: spool`: the durable log, locked by this process until the deliverer closes it.
        let spool: SpoolLog?
        do {
            spool = configuration.delivery.mode == .spool ? try configuration.delivery.openSpool() : nil
        } catch {
            audit?.close()
            await store.close()
            await forwarders.shutdown()
            throw error
        }
        if let spool {
            let status = spool.status
            if spool.statistics.corruptRecords > 0 {
                // A crash mid-write: the tail was cut at the last whole record; what was cut was never acknowledged.
                logger.warning(
                    "the spool had damaged records: cut at the last whole record",
                    metadata: ["cg.records": "\(spool.statistics.corruptRecords)", "cg.bytes": "\(spool.statistics.cutBytes)"])
            }
            logger.info(
                "spool opened",
                metadata: ["cg.batches": "\(status.batches)", "cg.bytes": "\(status.bytes)", "cg.dead_letters": "\(status.deadLetters)"])
        }
        let metrics = GatewayMetrics(
            sources: sourceSettings.map { GatewayMetrics.SourceLabels(name: $0.name, categories: $0.policy.categories) },
            build: BuildInfo(inflater: deflateLibrary), spool: spool != nil)
        let feed = DecisionFeed()
        let resolver = ConsentResolver(
            // Aliases rename the store's category ids before the cache; the consent API keeps the store's ids.
            store: MeasuredConsentStore(
                base: AliasedConsentStore(base: store, aliases: CategoryAliases(configuration.store.categoryAliases)), metrics: metrics),
            configuration: ConsentCacheConfiguration(
                capacity: configuration.cache.capacity,
                ttl: .seconds(configuration.cache.ttlSeconds),
                negativeTTL: .seconds(configuration.cache.negativeTTLSeconds),
                maxStaleGrant: .seconds(configuration.cache.maxStaleGrantSeconds)
            ),
            clock: { ContinuousClock.now },
            rng: SystemRandomNumberGenerator()
        )
        // A store that announces changes (PostgreSQL NOTIFY) keeps the cache right across replicas.
        (store as? any InvalidatingConsentStore)?.startInvalidations { resolver.apply($0) }
        let hasher = SubjectHasher(key: configuration.audit.hmacKey)
        if hasher.isEphemeral, audit != nil {
            logger.warning("audit.hmac_key is empty: subjects in the audit log are hashed with a random key and cannot be matched after a restart")
        }
        // Each source's own policy and upstream; the resolver (cache and store), audit log and feed are shared.
        let sources: IngressSources
        do {
            sources = try IngressSources(configuration) { source in
                SourceRoute(
                    enforcer: ConsentEnforcer(
                        resolver: resolver, policy: source.policy.rules,
                        maxStaleGrant: .seconds(configuration.cache.maxStaleGrantSeconds),
                        requestDeadline: .milliseconds(Int64(configuration.store.requestDeadlineSeconds * 1000)),
                        audit: audit, hasher: hasher, metrics: metrics, feed: feed, logger: logger, source: source.name),
                    forwarder: forwarders.forwarder(url: source.upstreamURL))
            }
        } catch {
            // Configuration loading already refuses a key in two sources; a hand-built configuration may not.
            await spool?.close()
            audit?.close()
            await store.close()
            await forwarders.shutdown()
            throw ConfigurationError(key: "sources", "\(error)")
        }
        let browser: BrowserAssets?
        do {
            browser = try makeBrowserAssets(metrics: metrics)
        } catch {
            audit?.close()
            await store.close()
            await forwarders.shutdown()
            throw error
        }
        let ports = PortCollector { [logger] addresses in
            logger.info(
                "listening",
                metadata: ["ingress_port": "\(addresses.ingressPort)", "admin_port": "\(addresses.adminPort)"])
            onListening(addresses)
        }

        let ingress = IngressResponder(
            settings: .init(
                limits: configuration.ingress.limits,
                maxBodyBytes: configuration.ingress.maxBodyBytes,
                cors: CORS(allowedOrigins: configuration.ingress.corsAllowedOrigins),
                retryAfterSeconds: configuration.upstream.retryAfterSeconds,
                gzipLevel: Int32(configuration.upstream.gzipLevel),
                bodyTimeout: .milliseconds(Int64(configuration.ingress.bodyTimeoutSeconds * 1000)),
                maxInflightRequests: configuration.ingress.maxInflightRequests,
                deflateLibrary: deflateLibrary,
                trustedProxies: TrustedProxies(configuration.ingress.trustedProxies),
                addressPolicy: configuration.addressPolicy
            ),
            sources: sources,
            metrics: metrics,
            feed: feed,
            logger: logger,
            browser: browser,
            spool: spool
        )
        let ingressApp = Application(
            responder: ingress,
            server: ingressServer,
            configuration: .init(
                address: .hostname(configuration.ingress.host, port: configuration.ingress.port), serverName: nil,
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.ingress.maxConnections)),
            onServerRunning: { channel in ports.ingress(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let spoolObservation = spool.map(SpoolObservation.init(log:))
        let readiness = Readiness(checks: [
            { forwarders.isOpen ? nil : "the upstream client is shut down" },
            { spoolObservation?.readinessProblem() },
            {
                do throws(ConsentStoreError) {
                    try await store.ping()
                    return nil
                } catch {
                    return "consent store (\(store.kind)) unavailable: \(error.code.rawValue)"
                }
            }
        ])
        let consentAPI = ConsentAPI(store: store, resolver: resolver, token: AdminToken(configuration.admin.token))
        let adminApp = Application(
            router: AdminRouter.make(
                readiness: readiness, consentAPI: consentAPI,
                observability: AdminObservability(
                    metrics: metrics, feed: feed, resolver: resolver, hasher: hasher, token: AdminToken(configuration.admin.token),
                    spool: spoolObservation),
                webhooks: configuration.admin.webhooks.map { webhook in
                    SignedWebhook(webhook, token: AdminToken(configuration.admin.token), logger: logger) { resolver.invalidate(subject: $0) }
                }),
            configuration: .init(address: .hostname(configuration.admin.host, port: configuration.admin.port), serverName: nil),
            onServerRunning: { channel in ports.admin(channel.localAddress?.port ?? 0) },
            logger: logger
        )

        logger.info(
            "consentgate starting",
            metadata: [
                "version": "\(BuildInfo.version)",
                "inflater": "\(deflateLibrary.rawValue)",
                "ingress": "\(configuration.ingress.tls == nil ? "http" : "https")://\(configuration.ingress.host):\(configuration.ingress.port)",
                "admin": "http://\(configuration.admin.host):\(configuration.admin.port)",
                "store": "\(configuration.store.kind.rawValue)",
                "upstream": "\(forwarders.description)",
                "sources": "\(sources.allEntries.map(\.name).joined(separator: ","))",
                "first_party_analytics_js": "\(configuration.browser.startupSummary)",
                "delivery": "\(configuration.delivery.mode.rawValue)",
            ])

        // Shut down in reverse order: the listeners first, then (spool mode) the deliverer, which drains
        // over the upstream client and closes the log once the ingress appends no more, then the store
        // and the audit log, then the upstream client.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: ClosingService { await forwarders.shutdown() }),
            .init(service: ClosingService { await browser?.shutdown() }),
            .init(service: ClosingService {
                audit?.close()
                await store.close()
            }),
        ]
        if let spool {
            let deliverer = SpoolDeliverer(
                log: spool, upstreams: SpoolDeliverer.upstreams(sources), settings: configuration.delivererSettings,
                metrics: metrics, feed: feed, audit: audit, logger: logger)
            services.append(.init(service: deliverer))
        }
        services.append(.init(service: adminApp))
        services.append(.init(service: ingressApp))
        var groupConfiguration = ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger
        )
        // In-flight requests get `shutdown.grace_seconds` to finish; then what remains is cancelled.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(configuration.shutdown.graceSeconds)
        let group = ServiceGroup(configuration: groupConfiguration)
        do {
            try await group.run()
        } catch {
            // Services that never ran (a listener failed to bind) did not close what they hold.
            await spool?.close()
            audit?.close()
            await store.close()
            await forwarders.shutdown()
            await browser?.shutdown()
            throw error
        }
    }

    /// First-party analytics.js, when `browser.api_host` is set: its CDN client and cache.
    private func makeBrowserAssets(metrics: GatewayMetrics) throws(ConfigurationError) -> BrowserAssets? {
        let browser = configuration.browser
        guard browser.isEnabled else { return nil }
        let settings = BrowserAssets.Settings(
            rewrite: SettingsRewrite.Options(
                apiHost: browser.apiHost, apiProtocol: browser.apiProtocol.rawValue, blocksDeviceMode: browser.deviceMode == .block,
                allowed: Set(browser.deviceModeAllow)),
            settingsFreshFor: .milliseconds(Int64(browser.settingsCacheSeconds * 1000)))
        let cdn = try CDNClient(
            cdnURL: browser.cdnURL, caFile: configuration.upstream.caFile, timeoutSeconds: configuration.upstream.timeoutSeconds,
            maxBodyBytes: settings.maxBodyBytes)
        return BrowserAssets(
            settings: settings, cdn: cdn,
            cache: AssetCache(maxBytes: browser.cacheMaxBytes, staleIfError: .milliseconds(Int64(browser.staleIfErrorSeconds * 1000))),
            metrics: metrics, logger: logger)
    }

    private func ingressServerBuilder() throws(ConfigurationError) -> HTTPServerBuilder {
        let http1 = HTTP1Channel.Configuration(idleTimeout: .milliseconds(Int64(configuration.ingress.headerTimeoutSeconds * 1000)))
        guard let files = configuration.ingress.tls else { return .http1(configuration: http1) }
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: files.key, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            return try .tls(.http1(configuration: http1), tlsConfiguration: tls)
        } catch {
            throw ConfigurationError(key: "ingress.tls", "cannot load the certificate or key: \(error)")
        }
    }
}

/// Collects the bound ports of both listeners and reports them once.
private final class PortCollector: Sendable {
    private let state = NIOLockedValueBox<(ingress: Int?, admin: Int?, reported: Bool)>((nil, nil, false))
    private let onListening: @Sendable (GatewayAddresses) -> Void

    init(onListening: @escaping @Sendable (GatewayAddresses) -> Void) {
        self.onListening = onListening
    }

    func ingress(_ port: Int) { update { $0.ingress = port } }
    func admin(_ port: Int) { update { $0.admin = port } }

    private func update(_ change: (inout (ingress: Int?, admin: Int?, reported: Bool)) -> Void) {
        let ready: GatewayAddresses? = state.withLockedValue { value in
            change(&value)
            guard !value.reported, let ingress = value.ingress, let admin = value.admin else { return nil }
            value.reported = true
            return GatewayAddresses(ingressPort: ingress, adminPort: admin)
        }
        if let ready { onListening(ready) }
    }
}

/// A service that does nothing until graceful shutdown, then runs `close` — for resources that
/// must outlive the listeners (the upstream client, the store).
struct ClosingService: Service {
    let close: @Sendable () async -> Void

    func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}
