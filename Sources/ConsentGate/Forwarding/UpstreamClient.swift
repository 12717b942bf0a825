import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

/// A small HTTP/1.1 client for one upstream, made for the forwarding hot path.
///
/// Each event loop of the group has its own pool of keep-alive connections. A request runs on the pool
/// of the loop it names (the ingress connection's), so reading the SDK's request, writing it upstream
/// and reading the answer stay on one thread: no hop to another loop, no wake-up of another thread.
/// A loop holds at most its share of ``Configuration/maxConnections``; more requests wait, within their
/// timeout. Redirects are not followed (a 30x is just an answer).
final class UpstreamClient: Sendable {
    private struct LoopPool: Sendable {
        var eventLoop: any EventLoop
        var pool: NIOLoopBoundBox<UpstreamConnectionPool>
    }

    let configuration: Configuration
    private let group: any EventLoopGroup
    private let pools: [LoopPool]
    private let closed = Atomic<Bool>(false)

    /// Whether requests are still accepted (false once ``shutdown()`` began).
    var isOpen: Bool { !closed.load(ordering: .relaxed) }

    /// - Throws: when the TLS configuration cannot make a context (e.g. unusable trust roots).
    init(configuration: Configuration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        let sslContext = configuration.endpoint.isTLS ? try NIOSSLContext(configuration: configuration.tls) : nil
        let loops = Array(eventLoopGroup.makeIterator())
        let share = (max(1, configuration.maxConnections) + loops.count - 1) / max(1, loops.count)
        self.configuration = configuration
        self.group = eventLoopGroup
        self.pools = loops.map { loop in
            LoopPool(
                eventLoop: loop,
                pool: .makeBoxSendingValue(
                    UpstreamConnectionPool(eventLoop: loop, configuration: configuration, sslContext: sslContext, limit: share),
                    eventLoop: loop))
        }
    }

    /// Sends `request` on a connection of `eventLoop`'s pool (any loop of the group when `nil` or
    /// foreign) and returns the answer, within `timeout` (the configured request timeout when `nil`).
    func execute(
        _ request: UpstreamRequest, on eventLoop: (any EventLoop)? = nil, timeout: TimeAmount? = nil
    ) async throws(UpstreamClientError) -> UpstreamResponse {
        guard isOpen else { throw UpstreamClientError(.shutDown) }
        let target = pool(for: eventLoop ?? group.any())
        let timeout = timeout ?? configuration.requestTimeout
        let promise = target.eventLoop.makePromise(of: UpstreamResponse.self)
        if target.eventLoop.inEventLoop {
            target.pool.value.execute(request, timeout: timeout, promise: promise)
        } else {
            target.eventLoop.execute { target.pool.value.execute(request, timeout: timeout, promise: promise) }
        }
        do {
            return try await promise.futureResult.get()
        } catch let error as UpstreamClientError {
            throw error
        } catch {
            throw UpstreamClientError(.connectionClosed, "\(error)")
        }
    }

    /// Fails what is in flight, closes every connection; later requests fail at once. Returns once the
    /// connections are closed: for TLS, within `tls.shutdownTimeout` when the peer does not answer the close.
    func shutdown() async {
        closed.store(true, ordering: .relaxed)
        let closing = pools.map { target in target.eventLoop.flatSubmit { target.pool.value.shutdown() } }
        try? await EventLoopFuture.andAllComplete(closing, on: group.any()).get()
    }

    private func pool(for eventLoop: any EventLoop) -> LoopPool {
        let wanted = ObjectIdentifier(eventLoop)
        for pool in pools where ObjectIdentifier(pool.eventLoop) == wanted { return pool }
        // A loop outside the group (e.g. a test's own): spread by its identity.
        return pools[Int(UInt(bitPattern: wanted.hashValue) % UInt(pools.count))]
    }
}
