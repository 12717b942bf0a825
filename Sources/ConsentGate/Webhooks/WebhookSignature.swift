import ConsentStores
import Crypto
import FoundationEssentials

/// Checks a webhook's HMAC-SHA256 signature (`admin.webhooks[i].signature`): the sender signs the raw
/// body with a shared secret and sends the digest, hex or base64, optionally after a prefix such as
/// `sha256=`, in one header.
///
/// The comparison is swift-crypto's `HMAC.isValidAuthenticationCode`, constant-time in the digest's
/// content, so timing reveals nothing about the expected value. Pure: no I/O, no logging.
struct WebhookSignature: Sendable {
    typealias Encoding = GatewayConfiguration.Admin.Webhook.Signature.Encoding

    /// Why a request's signature was not accepted; the message never quotes the header or the body.
    struct Failure: Error, Sendable, Hashable {
        struct Reason: Sendable, Hashable, CustomStringConvertible {
            let rawValue: String
            var description: String { rawValue }
            static let missing = Reason(rawValue: "signature_missing")
            static let malformed = Reason(rawValue: "signature_malformed")
            static let mismatch = Reason(rawValue: "signature_mismatch")
        }

        let reason: Reason
    }

    let header: String
    let encoding: Encoding
    let prefix: String
    /// The secret's bytes (`SymmetricKey` is not `Sendable`; one is made per check).
    private let secret: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: secret) }

    init(_ configuration: GatewayConfiguration.Admin.Webhook.Signature) {
        header = configuration.header
        encoding = configuration.encoding
        prefix = configuration.prefix
        secret = Array(configuration.secret.utf8)
    }

    /// Accepts `body` when `headerValue` carries its HMAC-SHA256 under the secret.
    func verify(body: some Collection<UInt8>, headerValue: String?) throws(Failure) {
        guard let headerValue else { throw Failure(reason: .missing) }
        var text = Substring(headerValue.trimmingSpaces)
        if !prefix.isEmpty {
            guard text.lowercased().hasPrefix(prefix.lowercased()) else { throw Failure(reason: .malformed) }
            text = text.dropFirst(prefix.count)
        }
        guard let digest = Self.decode(text, encoding), digest.count == SHA256.byteCount else {
            throw Failure(reason: .malformed)
        }
        guard HMAC<SHA256>.isValidAuthenticationCode(digest, authenticating: Data(body), using: key) else {
            throw Failure(reason: .mismatch)
        }
    }

    /// The signature a sender would put in the header for `body` (for tests and documentation).
    func sign(_ body: some Collection<UInt8>) -> String {
        let digest = Array(HMAC<SHA256>.authenticationCode(for: Data(body), using: key))
        switch encoding {
        case .hex: return prefix + digest.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        case .base64: return prefix + Data(digest).base64EncodedString()
        }
    }

    private static func decode(_ text: Substring, _ encoding: Encoding) -> [UInt8]? {
        switch encoding {
        case .hex:
            let digits = Array(text.utf8)
            guard digits.count % 2 == 0 else { return nil }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(digits.count / 2)
            var index = 0
            while index < digits.count {
                guard let high = PercentEncoding.hexValue(digits[index]), let low = PercentEncoding.hexValue(digits[index + 1])
                else { return nil }
                bytes.append(high << 4 | low)
                index += 2
            }
            return bytes
        case .base64:
            return Data(base64Encoded: String(text)).map(Array.init)
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
