import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// One HTTP client for tests that talk to child processes (never shut down: it lives as long as the
/// test process).
struct HarnessClient: Sendable {
    static let shared = HarnessClient()
    private let client = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow, decompression: .disabled))

    func send(_ url: String, method: String, body: [UInt8]?, headers: [(String, String)]) async throws -> (status: Int, body: String) {
        let reply = try await client.send(url, body: body, headers: headers, method: HTTPMethod(rawValue: method))
        return (reply.status, reply.body)
    }

    /// The same with a JSON text body (sent with `Content-Type: application/json`).
    func send(_ url: String, method: String, body: String? = nil, headers: [String: String] = [:]) async throws -> (status: Int, body: String) {
        var all = headers.map { ($0.key, $0.value) }
        if body != nil { all.append(("Content-Type", "application/json")) }
        return try await send(url, method: method, body: body.map { Array($0.utf8) }, headers: all)
    }
}

extension HTTPClient {
    /// Sends one request and collects its answer (up to 16 MB): the one request function of the
    /// tests' clients (``GatewayHarness`` and ``HarnessClient``).
    func send(_ url: String, body: [UInt8]?, headers: [(String, String)], method: HTTPMethod) async throws -> GatewayHarness.Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 16 << 20)
        return GatewayHarness.Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: data))
    }
}
