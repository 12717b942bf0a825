@testable import ConsentGate
import Crypto
import Foundation
import Testing

/// `admin.webhooks[i].signature`: HMAC-SHA256 of the raw body, hex or base64, optional prefix.
@Suite struct WebhookSignatureTests {
    private let body = Array(#"{"type":"event.created"}"#.utf8)

    private func signature(_ encoding: GatewayConfiguration.Admin.Webhook.Signature.Encoding, prefix: String = "") -> WebhookSignature {
        WebhookSignature(.init(header: "X-Signature", secret: "shh", encoding: encoding, prefix: prefix))
    }

    /// The digest computed independently of the type under test.
    private var expectedDigest: [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Data(body), using: SymmetricKey(data: Data("shh".utf8))))
    }

    @Test func acceptsTheHexDigestWithItsPrefixInEitherCase() throws {
        let hex = expectedDigest.map { String(format: "%02x", $0) }.joined()
        try signature(.hex, prefix: "sha256=").verify(body: body, headerValue: "sha256=" + hex)
        try signature(.hex, prefix: "sha256=").verify(body: body, headerValue: "SHA256=" + hex.uppercased())
        try signature(.hex).verify(body: body, headerValue: " \(hex) ")
        #expect(signature(.hex, prefix: "sha256=").sign(body) == "sha256=" + hex)
    }

    @Test func acceptsTheBase64Digest() throws {
        let base64 = Data(expectedDigest).base64EncodedString()
        try signature(.base64).verify(body: body, headerValue: base64)
        #expect(signature(.base64).sign(body) == base64)
    }

    @Test func refusesAMissingMalformedOrWrongSignature() {
        let hex = expectedDigest.map { String(format: "%02x", $0) }.joined()
        func reason(_ check: WebhookSignature, _ value: String?, body: [UInt8]? = nil) -> WebhookSignature.Failure.Reason? {
            do {
                try check.verify(body: body ?? self.body, headerValue: value)
                return nil
            } catch {
                return error.reason
            }
        }
        #expect(reason(signature(.hex), nil) == .missing)
        #expect(reason(signature(.hex, prefix: "sha256="), hex) == .malformed, "the prefix is required")
        #expect(reason(signature(.hex), "zz" + hex.dropFirst(2)) == .malformed)
        #expect(reason(signature(.hex), String(hex.dropLast(2))) == .malformed, "a short digest")
        #expect(reason(signature(.base64), "***") == .malformed)
        #expect(reason(signature(.hex), hex, body: Array(#"{"type":"event.deleted"}"#.utf8)) == .mismatch, "another body")
        let otherSecret = WebhookSignature(.init(header: "X-Signature", secret: "other", encoding: .hex))
        #expect(reason(otherSecret, hex) == .mismatch)
    }
}
