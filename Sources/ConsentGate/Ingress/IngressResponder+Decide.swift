import SegmentWire

extension IngressResponder {
    /// The write-key allowlist (`ingress.write_keys`): the `Authorization` key, else the body's.
    func authorize(_ parsed: ParsedRequest, _ accepted: AcceptedRequest) throws(IngressRefusal) {
        guard !settings.writeKeys.isEmpty else { return }
        let key: String?
        if case .basic(let basic) = accepted.authorization { key = basic } else { key = parsed.bodyWriteKey }
        guard let key else {
            throw IngressRefusal(
                .missingWriteKey, "a write key is required: Authorization: Basic base64(writeKey:) or writeKey in the body")
        }
        guard settings.writeKeys.contains(key) else {
            throw IngressRefusal(.unknownWriteKey, "the write key is not allowed on this gateway")
        }
    }

    /// Every event's consent against its subject's truth; a request whose consent cannot be verified
    /// under `on_store_unavailable: reject` is refused whole.
    func enforce(_ parsed: ParsedRequest, _ accepted: AcceptedRequest) async throws(IngressRefusal) -> Enforcement {
        let enforcement = await enforcer.enforce(
            parsed.scanned, subjects: parsed.subjects, body: parsed.body, gpc: accepted.fields.gpc, requestId: accepted.requestId)
        if enforcement.rejected {
            throw IngressRefusal(
                .consentUnverifiable, "consent could not be verified for every event; nothing was forwarded, retry later",
                headers: IngressRefusal.retryAfter(settings.retryAfterSeconds))
        }
        return enforcement
    }
}
