import ConsentStores
import Crypto
import FoundationEssentials

/// The admin API's bearer token, compared in constant time: both sides are hashed to digests of
/// equal length, compared without an early exit, so timing reveals nothing about the token.
struct AdminToken: Sendable {
    private let digest: [UInt8]?

    init(_ token: String) {
        digest = token.isEmpty ? nil : Array(SHA256.hash(data: Data(token.utf8)))
    }

    /// With an empty token the consent API is off.
    var isEnabled: Bool { digest != nil }

    /// Whether an `Authorization` header carries the token as `Bearer <token>`.
    func accepts(authorization: String?) -> Bool {
        guard let digest, let authorization else { return false }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        let presented = Array(SHA256.hash(data: Data(String(parts[1]).trimmingSpaces.utf8)))
        var difference: UInt8 = 0
        for (a, b) in zip(presented, digest) { difference |= a ^ b }
        return difference == 0 && presented.count == digest.count
    }

    /// Whether a `Cookie` header carries the token under `name` (set by the debugger page).
    func accepts(cookie: String?, name: String) -> Bool {
        guard let cookie else { return false }
        for pair in cookie.split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, String(parts[0]).trimmingSpaces == name else { continue }
            let value = PercentEncoding.decode(Substring(String(parts[1]).trimmingSpaces)) ?? ""
            return accepts(authorization: "Bearer " + value)
        }
        return false
    }
}
