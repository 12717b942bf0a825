import ConsentCore
import Hummingbird
import NIOCore

/// `/metrics` (open, for Prometheus) and the live decision view `/debugger` with its data at
/// `/debugger/state` (token-protected: a bearer header, or the cookie the page sets).
struct AdminObservability: Sendable {
    let metrics: GatewayMetrics
    let feed: DecisionFeed
    let resolver: ConsentResolver
    let hasher: SubjectHasher
    let token: AdminToken
    /// The spool in `delivery.mode: spool`: its gauges at scrape time, its depth and age on the debugger.
    var spool: SpoolObservation? = nil

    static let cookieName = "consentgate_admin_token"

    func register(on router: Router<BasicRequestContext>) {
        router.get("metrics") { _, _ in
            metrics.syncCache(resolver.statistics)
            if let spool { spool.sync(metrics) }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        router.get("debugger") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                          .contentSecurityPolicy: "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"],
                body: .init(byteBuffer: ByteBuffer(string: DebuggerPage.html)))
        }
        router.get("debugger/state") { request, _ in
            guard token.isEnabled else {
                return AdminRouter.error(.forbidden, "debugger_disabled", "the debugger is disabled: set admin.token to enable it")
            }
            guard token.accepts(authorization: request.headers[.authorization]) || token.accepts(cookie: request.headers[.cookie], name: Self.cookieName)
            else {
                return AdminRouter.error(.unauthorized, "unauthorized", "Authorization: Bearer <admin.token> is required")
            }
            return AdminRouter.json(
                .ok, feed.json(cache: resolver.statistics, name: hasher.name(of:), spool: spool?.json()), headers: [.cacheControl: "no-store"])
        }
    }
}
