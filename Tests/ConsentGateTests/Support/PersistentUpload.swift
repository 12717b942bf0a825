import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A keep-alive chunked upload that goes on after the server has answered, to tell a server that
/// closes the connection from one that reads and discards the rest of the body.
///
/// Over a plain TCP socket: one thread sends a chunk every `interval` until `duration` has passed or a
/// send fails; another reads the answer and then waits for the end of the connection.
enum PersistentUpload {
    struct Outcome: Sendable {
        /// The status of the answer, if a complete one arrived.
        var status: Int?
        /// When the answer was complete, since the upload began.
        var answeredAfter: Duration?
        /// When the connection was found closed by the server (a read saw its end or a send failed).
        var closedAfter: Duration?
        /// Body bytes written (chunk framing included).
        var bytesSent: Int
    }

    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var received: [UInt8] = []
        var status: Int?
        var answeredAfter: Duration?
        var closedAfter: Duration?
        /// Set before this side shuts the socket down, so that its own end is not taken for the server's.
        var finishing = false
        let readerDone = DispatchSemaphore(value: 0)
    }

    static func run(
        port: Int, path: String, prefix: [UInt8], chunkSize: Int, interval: Duration, duration: Duration
    ) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    try blockingRun(port: port, path: path, prefix: prefix, chunkSize: chunkSize, interval: interval, duration: duration)
                })
            }
        }
    }

    private static func blockingRun(
        port: Int, path: String, prefix: [UInt8], chunkSize: Int, interval: Duration, duration: Duration
    ) throws -> Outcome {
        let fd = try LoopbackSocket.connect(port: port)
        // A send that blocks this long means the server stopped reading: count it as a failed send.
        var sendTimeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))

        let started = ContinuousClock.now
        let state = State()
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                let now = ContinuousClock.now - started
                if n <= 0 {
                    state.lock.withLock { if state.closedAfter == nil && !state.finishing { state.closedAfter = now } }
                    break
                }
                state.lock.withLock {
                    state.received += buffer[..<n]
                    if state.status == nil, let response = RawHTTPClient.parse(state.received) {
                        state.status = response.status
                        state.answeredAfter = now
                    }
                }
            }
            state.readerDone.signal()
        }

        // Keep-alive (no `Connection: close`): the server decides what happens to the connection.
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        func chunk(_ bytes: [UInt8]) -> [UInt8] { Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10] }
        func sendAll(_ bytes: [UInt8]) -> Bool { LoopbackSocket.sendAll(fd, bytes) }
        var sent = 0
        let filler = chunk([UInt8](repeating: UInt8(ascii: " "), count: chunkSize))
        var ok = sendAll(Array(head.utf8)) && sendAll(chunk(prefix))
        while ok, ContinuousClock.now - started < duration, state.lock.withLock({ state.closedAfter == nil }) {
            ok = sendAll(filler)
            if ok { sent += filler.count }
            Thread.sleep(forTimeInterval: Double(interval.components.attoseconds) / 1e18 + Double(interval.components.seconds))
        }
        if !ok {
            let now = ContinuousClock.now - started
            state.lock.withLock { if state.closedAfter == nil { state.closedAfter = now } }
        }
        state.lock.withLock { state.finishing = true }
        shutdown(fd, Int32(SHUT_RDWR))
        state.readerDone.wait()
        close(fd)
        return state.lock.withLock {
            Outcome(status: state.status, answeredAfter: state.answeredAfter, closedAfter: state.closedAfter, bytesSent: sent)
        }
    }
}
