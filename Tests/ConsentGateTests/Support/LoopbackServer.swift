import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL

/// A Hummingbird router served on 127.0.0.1 by a ``ServiceRunner``: TLS with the test certificate, or plain
/// HTTP/1.1. What the stand-ins for Segment and for the CDN share.
enum LoopbackServer {
    /// Starts serving on `port` (0: a free one) and returns once it is bound, with the bound port.
    static func start<Context: RequestContext & InitializableFromSource<ApplicationRequestContextSource>>(
        _ router: Router<Context>, tls: Bool, http1: HTTP1Channel.Configuration = .init(), port: Int = 0, label: String
    ) async throws -> (server: ServiceRunner, port: Int) {
        let files = TestCertificates.files
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificate).map { NIOSSLCertificateSource.certificate($0) }
        let tlsConfiguration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: files.key, format: .pem)))
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            server: tls ? try .tls(.http1(configuration: http1), tlsConfiguration: tlsConfiguration) : .http1(configuration: http1),
            configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: Logger(label: label)
        )
        let server = ServiceRunner(
            [
                ClosureService {
                    defer { portContinuation.finish() }  // e.g. the port could not be bound
                    try await app.run()
                }
            ], logger: Logger(label: label))
        var iterator = portStream.makeAsyncIterator()
        guard let bound = await iterator.next() else {
            try await server.value
            throw CancellationError()
        }
        return (server, bound)
    }
}
