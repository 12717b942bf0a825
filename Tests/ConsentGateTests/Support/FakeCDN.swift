import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SegmentWire

/// A local stand-in for Segment's CDN (or for any origin that serves fixed files, such as a test page):
/// it serves what it is given by path, gzip-compressed to a client that asks for gzip when told to, answers
/// `If-None-Match` with 304, counts every request by path, and can fail or answer late on demand.
final class FakeCDN: Sendable {
    /// One file it serves.
    struct File: Sendable {
        var body: [UInt8]
        var contentType = "application/javascript"
        var cacheControl: String? = "public, max-age=300"
        var etag: String?
        /// Sent gzip-compressed (`Content-Encoding: gzip`) to a client whose `Accept-Encoding` names gzip.
        var gzip = false

        init(_ text: String, contentType: String = "application/javascript", cacheControl: String? = "public, max-age=300", etag: String? = nil, gzip: Bool = false) {
            self.body = Array(text.utf8)
            self.contentType = contentType
            self.cacheControl = cacheControl
            self.etag = etag
            self.gzip = gzip
        }
    }

    /// One request it received.
    struct Received: Sendable {
        var path: String
        var headers: HTTPFields
    }

    private struct State: Sendable {
        var files: [String: File] = [:]
        var received: [Received] = []
        /// Answer this status to every request while set.
        var failure: Int?
        var delay: Duration = .zero
        var server: ServiceRunner?
    }

    private let state: NIOLockedValueBox<State>
    let port: Int
    let tls: Bool

    /// The base URL (`browser.cdn_url`, or a page's origin).
    var url: String { "\(tls ? "https://localhost" : "http://127.0.0.1"):\(port)" }

    var received: [Received] { state.withLockedValue { $0.received } }

    /// How many requests asked for `path`.
    func requests(_ path: String) -> Int { received.filter { $0.path == path }.count }

    func serve(_ path: String, _ file: File) { state.withLockedValue { $0.files[path] = file } }
    /// Answers `status` to every request (nil: serve again).
    func fail(_ status: Int?) { state.withLockedValue { $0.failure = status } }
    func answer(after delay: Duration) { state.withLockedValue { $0.delay = delay } }

    private init(state: NIOLockedValueBox<State>, port: Int, tls: Bool) {
        self.state = state
        self.port = port
        self.tls = tls
    }

    static func start(tls: Bool = true) async throws -> FakeCDN {
        let state = NIOLockedValueBox(State())
        let router = Router()
        router.get("**") { request, _ -> Response in
            let (file, failure, delay) = state.withLockedValue { value in
                value.received.append(Received(path: request.uri.path, headers: request.headers))
                return (value.files[request.uri.path], value.failure, value.delay)
            }
            if delay > .zero { try await Task.sleep(for: delay) }
            if let failure { return Response(status: .init(code: failure), body: .init(byteBuffer: ByteBuffer(string: "failure"))) }
            guard let file else { return Response(status: .notFound, body: .init(byteBuffer: ByteBuffer(string: "no such file"))) }
            var headers: HTTPFields = [.contentType: file.contentType]
            if let cacheControl = file.cacheControl { headers[.cacheControl] = cacheControl }
            if let etag = file.etag {
                headers[.eTag] = etag
                if request.headers[.ifNoneMatch] == etag { return Response(status: .notModified, headers: headers) }
            }
            var body = file.body
            if file.gzip, request.headers[.acceptEncoding]?.contains("gzip") == true {
                body = body.withUnsafeBytes { Gzip.compress($0) }
                headers[.contentEncoding] = "gzip"
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        let (server, port) = try await LoopbackServer.start(router, tls: tls, label: "fake-cdn")
        state.withLockedValue { $0.server = server }
        return FakeCDN(state: state, port: port, tls: tls)
    }

    func stop() async {
        guard let server = state.withLockedValue({ value -> ServiceRunner? in
            defer { value.server = nil }
            return value.server
        }) else { return }
        await server.stop()
    }
}
