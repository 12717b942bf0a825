import Synchronization

/// Counts requests being handled and refuses new ones past a limit (answered 503 + Retry-After),
/// so a burst cannot grow memory without bound.
final class InflightLimit: Sendable {
    private let count = Atomic<Int>(0)

    /// Takes a place; `false` (and no place taken) when `limit` are already in flight.
    func enter(limit: Int) -> Bool {
        let now = count.add(1, ordering: .relaxed).newValue
        if now > limit {
            count.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func leave() {
        count.subtract(1, ordering: .relaxed)
    }
}
