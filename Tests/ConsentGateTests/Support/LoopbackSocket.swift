import Foundation

/// A blocking TCP connection to a loopback port, for the raw clients of the tests (slow, partial or
/// persistent uploads that an HTTP client library would not send).
enum LoopbackSocket {
    /// A connected socket's descriptor; the caller closes it.
    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPClient.Failure(description: "socket() failed: \(errno)") }
        let connected = withLoopbackAddress(port: port) { Foundation.connect(fd, $0, $1) }
        guard connected == 0 else {
            let error = errno
            close(fd)
            throw RawHTTPClient.Failure(description: "connect() failed: \(error)")
        }
        return fd
    }

    /// A socket bound to 127.0.0.1:`port` (with `SO_REUSEADDR`) but not listening, which keeps the port
    /// from being handed to anyone binding port 0; nil when the bind fails. The caller closes it.
    static func bind(port: Int) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withLoopbackAddress(port: port) { Foundation.bind(fd, $0, $1) }
        guard bound == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Calls `body` with 127.0.0.1:`port` as a `sockaddr` and its length.
    private static func withLoopbackAddress<R>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: inet_addr("127.0.0.1"))
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Sends every byte (blocking); `false` once a send fails, e.g. because the server closed the connection.
    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
