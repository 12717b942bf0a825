import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Many raw TCP connections to a loopback port that each send a partial request and then trickle
/// it a byte at a time: slowloris. Blocking socket calls run on a dedicated thread.
final class SlowConnections: @unchecked Sendable {
    private var sockets: [Int32] = []
    private let lock = NSLock()

    /// Opens `count` connections and sends each the start of a request head.
    static func open(count: Int, port: Int, partial: String) async -> SlowConnections {
        let connections = SlowConnections()
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                for _ in 0..<count {
                    guard let fd = try? LoopbackSocket.connect(port: port) else { continue }
                    _ = partial.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                    connections.lock.withLock { connections.sockets.append(fd) }
                }
                continuation.resume()
            }
        }
        return connections
    }

    var count: Int { lock.withLock { sockets.count } }

    /// Sends one more header byte on every connection; returns how many are still open.
    func trickle() async -> Int {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var open = 0
                self.lock.withLock {
                    for fd in self.sockets where send(fd, "X", 1, Int32(MSG_NOSIGNAL)) == 1 { open += 1 }
                }
                continuation.resume(returning: open)
            }
        }
    }

    /// Trickles every 250 ms until no connection is open or `limit` has passed; returns how many are open.
    func trickleUntilClosed(within limit: Duration) async -> Int {
        let deadline = ContinuousClock.now + limit
        var open = await trickle()
        while open > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(250))
            open = await trickle()
        }
        return open
    }

    func closeAll() {
        lock.withLock {
            for fd in sockets { close(fd) }
            sockets = []
        }
    }
}
