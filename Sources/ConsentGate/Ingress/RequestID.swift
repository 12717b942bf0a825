import HTTPTypes
import Synchronization

/// Request ids for `X-Request-Id` and the audit log, so an operator can match a client's report to
/// audit records without user ids: a random per-process prefix and a counter.
enum RequestID {
    static let header = HTTPField.Name("X-Request-Id")!

    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        return String(value & 0xFFFF_FFFF, radix: 16)
    }()
    private static let counter = Atomic<UInt64>(0)

    static func next() -> String {
        let value = counter.add(1, ordering: .relaxed).newValue
        return prefix + "-" + String(value, radix: 16)
    }
}
