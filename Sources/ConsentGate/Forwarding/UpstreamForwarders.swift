import NIOCore
import NIOPosix

/// Every upstream of a gateway: one ``UpstreamForwarder`` (one connection pool) per distinct upstream
/// URL, shared by every source that sends there, so two sources to the same Segment endpoint keep one
/// set of kept-alive connections. Built once at start, shut down together at stop.
struct UpstreamForwarders: Sendable {
    /// Every forwarder, in order of first use (the top-level `upstream.url` first).
    let all: [UpstreamForwarder]
    private let byURL: [String: UpstreamForwarder]

    /// Opens a forwarder for each distinct URL of `urls`, with the rest of `upstream`'s settings; closes
    /// those already made when one cannot be made.
    static func open(
        urls: [String], upstream: GatewayConfiguration.Upstream,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(ConfigurationError) -> UpstreamForwarders {
        var all: [UpstreamForwarder] = []
        var byURL: [String: UpstreamForwarder] = [:]
        for url in urls where byURL[url] == nil {
            var settings = upstream
            settings.url = url
            do {
                let forwarder = try UpstreamForwarder(configuration: settings, eventLoopGroup: eventLoopGroup)
                all.append(forwarder)
                byURL[url] = forwarder
            } catch {
                for made in all { await made.shutdown() }
                throw error
            }
        }
        return UpstreamForwarders(all: all, byURL: byURL)
    }

    private init(all: [UpstreamForwarder], byURL: [String: UpstreamForwarder]) {
        self.all = all
        self.byURL = byURL
    }

    /// The forwarder of a URL given to ``open(urls:upstream:eventLoopGroup:)``.
    func forwarder(url: String) -> UpstreamForwarder {
        guard let forwarder = byURL[url] else { preconditionFailure("no forwarder was opened for this upstream URL") }
        return forwarder
    }

    /// Whether every forwarder still forwards (false once shutdown began).
    var isOpen: Bool { all.allSatisfy(\.isOpen) }

    /// Each upstream's host, for the log at start.
    var description: String { all.map(\.upstreamDescription).joined(separator: ", ") }

    /// Shuts every forwarder down.
    func shutdown() async {
        for forwarder in all { await forwarder.shutdown() }
    }
}
