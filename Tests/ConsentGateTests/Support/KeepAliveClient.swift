import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sends whole requests one after another on one keep-alive TCP connection, reading each answer
/// before sending the next, as a pooling client does.
enum KeepAliveClient {
    /// A `POST` with a `Content-Length` body, as raw bytes.
    static func post(port: Int, path: String, body: [UInt8]) -> [UInt8] {
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// The answer to each request, in order; `nil` for a request whose answer never came (the
    /// connection broke or `timeout` passed), and for every request after it.
    static func exchange(port: Int, requests: [[UInt8]], timeout: TimeInterval = 15) async throws -> [RawHTTPClient.Response?] {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try blockingExchange(port: port, requests: requests, timeout: timeout) })
            }
        }
    }

    private static func blockingExchange(port: Int, requests: [[UInt8]], timeout: TimeInterval) throws -> [RawHTTPClient.Response?] {
        let fd = try LoopbackSocket.connect(port: port)
        defer { close(fd) }
        var receiveTimeout = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))

        var answers: [RawHTTPClient.Response?] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        for request in requests {
            var offset = 0
            while offset < request.count {
                let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + offset, request.count - offset, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { break }
                offset += n
            }
            var received: [UInt8] = []
            var answer: RawHTTPClient.Response?
            while answer == nil {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                received += buffer[..<n]
                answer = RawHTTPClient.parse(received)
            }
            answers.append(answer)
            if answer == nil { break }
        }
        return answers + Array(repeating: nil, count: requests.count - answers.count)
    }
}
