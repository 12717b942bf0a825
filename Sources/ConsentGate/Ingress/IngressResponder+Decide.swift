import SegmentWire

extension IngressResponder {
    /// Selects the request's source by its write key (the `Authorization` key, else the body's), which
    /// must be on the allowlist (`ingress.write_keys` and every source's keys) when there is one: one
    /// dictionary lookup. Without an allowlist every request takes the top-level settings.
    func selectSource(_ parsed: ParsedRequest, _ accepted: AcceptedRequest) throws(IngressRefusal) -> IngressSources.Entry {
        guard sources.checksWriteKeys else { return sources.defaultEntry }
        let key: String?
        if case .basic(let basic) = accepted.authorization { key = basic } else { key = parsed.bodyWriteKey }
        guard let key else {
            throw IngressRefusal(
                .missingWriteKey, "a write key is required: Authorization: Basic base64(writeKey:) or writeKey in the body")
        }
        guard let source = sources.allowedEntry(writeKey: key) else {
            throw IngressRefusal(.unknownWriteKey, "the write key is not allowed on this gateway")
        }
        return source
    }

    /// Every event's consent against its subject's truth, under the source's policy; a request whose
    /// consent cannot be verified under `on_store_unavailable: reject` is refused whole.
    func enforce(_ parsed: ParsedRequest, _ source: IngressSources.Entry, _ accepted: AcceptedRequest) async throws(IngressRefusal) -> Enforcement {
        let enforcement = await source.route.enforcer.enforce(
            parsed.scanned, subjects: parsed.subjects, body: parsed.body, gpc: accepted.fields.gpc, requestId: accepted.requestId)
        if enforcement.rejected {
            throw IngressRefusal(
                .consentUnverifiable, "consent could not be verified for every event; nothing was forwarded, retry later",
                headers: IngressRefusal.retryAfter(settings.retryAfterSeconds))
        }
        return enforcement
    }
}
