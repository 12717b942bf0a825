import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client over a plain TCP socket, for requests a real client would not send:
/// a chunked body that keeps coming past the gateway's limit, with no `Content-Length`.
///
/// A reader thread collects the answer while the writer sends, so a response the server writes
/// before it has read the whole body (and then closes) is still seen. Sending stops as soon as the
/// answer is complete, the server stops reading, or the connection breaks.
enum RawHTTPClient {
    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
        /// Body bytes (chunk framing included) written before sending stopped.
        var bytesSent: Int

        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
        var code: String? { json?["code"] as? String }
        var message: String? { json?["message"] as? String }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Posts `path` with `Transfer-Encoding: chunked` and no `Content-Length`: `chunkCount` chunks of
    /// `chunkSize` bytes of `chunk`, then the last chunk.
    static func postChunked(
        port: Int, path: String, headers: [(String, String)] = [("Content-Type", "application/json")],
        chunk: UInt8 = UInt8(ascii: " "), chunkSize: Int, chunkCount: Int, prefix: [UInt8] = [], suffix: [UInt8] = [],
        timeout: TimeInterval = 30
    ) async throws -> Response {
        var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        let filler = [UInt8](repeating: chunk, count: chunkSize)
        let pieces: [[UInt8]] = [prefix] + Array(repeating: filler, count: chunkCount) + [suffix]
        let framed: @Sendable (Int) -> [UInt8]? = { index in
            if index == pieces.count { return Array("0\r\n\r\n".utf8) }
            guard index < pieces.count else { return nil }
            let piece = pieces[index]
            if piece.isEmpty { return [] }
            return Array(String(piece.count, radix: 16).utf8) + [13, 10] + piece + [13, 10]
        }
        return try await exchange(port: port, head: Array(head.utf8), body: framed, timeout: timeout)
    }

    /// Sends `head`, then `body(0)`, `body(1)`, ... until it gives `nil`, and reads the answer.
    static func exchange(
        port: Int, head: [UInt8], body: @escaping @Sendable (Int) -> [UInt8]?, timeout: TimeInterval
    ) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try blockingExchange(port: port, head: head, body: body, timeout: timeout) })
            }
        }
    }

    private final class Reader: @unchecked Sendable {
        let lock = NSLock()
        var received: [UInt8] = []
        var finished = false
        let done = DispatchSemaphore(value: 0)

        var isFinished: Bool { lock.withLock { finished } }
    }

    private static func blockingExchange(
        port: Int, head: [UInt8], body: @Sendable (Int) -> [UInt8]?, timeout: TimeInterval
    ) throws -> Response {
        let fd = try LoopbackSocket.connect(port: port)
        // A send that blocks this long means the server stopped reading the body.
        var sendTimeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        var receiveTimeout = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))

        let reader = Reader()
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                let complete = reader.lock.withLock {
                    reader.received += buffer[..<n]
                    return parse(reader.received) != nil
                }
                if complete { break }
            }
            reader.lock.withLock { reader.finished = true }
            reader.done.signal()
        }

        var sent = 0
        func sendAll(_ bytes: [UInt8]) -> Bool { LoopbackSocket.sendAll(fd, bytes) }
        if sendAll(head) {
            var index = 0
            while !reader.isFinished, let piece = body(index) {
                if !piece.isEmpty {
                    guard sendAll(piece) else { break }
                    sent += piece.count
                }
                index += 1
            }
        }
        let answered = reader.done.wait(timeout: .now() + timeout) == .success
        shutdown(fd, Int32(SHUT_RDWR))
        if !answered { _ = reader.done.wait(timeout: .now() + 5) }
        close(fd)
        let received = reader.lock.withLock { reader.received }
        guard var response = parse(received) else {
            throw Failure(description: "no complete HTTP response (\(received.count) bytes received, \(sent) sent)")
        }
        response.bytesSent = sent
        return response
    }

    /// A complete response in `bytes` (`Content-Length` or chunked body), else `nil`.
    static func parse(_ bytes: [UInt8]) -> Response? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.firstRange(of: separator) else { return nil }
        let headText = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let rest = Array(bytes[end.upperBound...])
        if let length = headers["content-length"].flatMap({ Int($0) }) {
            guard rest.count >= length else { return nil }
            return Response(status: status, headers: headers, body: Array(rest[..<length]), bytesSent: 0)
        }
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var body: [UInt8] = []
            var i = 0
            while true {
                guard let lineEnd = rest[i...].firstRange(of: [13, 10]) else { return nil }
                guard let size = Int(String(decoding: rest[i..<lineEnd.lowerBound], as: UTF8.self), radix: 16) else { return nil }
                i = lineEnd.upperBound
                if size == 0 { return Response(status: status, headers: headers, body: body, bytesSent: 0) }
                guard rest.count >= i + size + 2 else { return nil }
                body += rest[i..<(i + size)]
                i += size + 2
            }
        }
        return Response(status: status, headers: headers, body: rest, bytesSent: 0)
    }
}
