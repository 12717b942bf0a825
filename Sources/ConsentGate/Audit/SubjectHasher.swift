import Crypto
import FoundationEssentials

/// Names a subject without revealing it: hex HMAC-SHA256(`audit.hmac_key`, id). An operator who holds
/// the key can compute the name of a known id and find its records; nobody else can invert it.
struct SubjectHasher: Sendable {
    private let key: [UInt8]
    /// Whether the key was generated at start (records then cannot be matched across restarts).
    let isEphemeral: Bool

    init(key: String) {
        if key.isEmpty {
            var generator = SystemRandomNumberGenerator()
            self.key = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            self.isEphemeral = true
        } else {
            self.key = Array(key.utf8)
            self.isEphemeral = false
        }
    }

    func name(of subject: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(subject.utf8), using: SymmetricKey(data: key))
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(64)
        for byte in code {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
