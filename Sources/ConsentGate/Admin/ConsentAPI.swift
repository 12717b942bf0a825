import ConsentCore
import ConsentStores
import FoundationEssentials
import Hummingbird
import NIOCore

/// The consent API for the customer's consent platform, on the admin listener:
/// `PUT`, `GET` and `DELETE /consent/subjects/{id}`, each requiring `Authorization: Bearer <admin.token>`,
/// and the invalidation webhook `POST /consent/invalidate` (``InvalidationWebhook``).
/// Writes go to the store of record and drop the subject from the cache at once. A store consentgate
/// only reads (`store.kind: http`) answers `GET`, and `405 store_read_only` to writes.
struct ConsentAPI: Sendable {
    let store: any ConsentStore
    let resolver: ConsentResolver
    let token: AdminToken

    func register(on router: Router<BasicRequestContext>) {
        let group = router.group("consent/subjects")
        group.put(":id") { request, context in try await authorized(request, context) { subject in try await put(subject, request) } }
        group.get(":id") { request, context in try await authorized(request, context) { subject in await get(subject) } }
        group.delete(":id") { request, context in try await authorized(request, context) { subject in await delete(subject) } }
        InvalidationWebhook(resolver: resolver, token: token).register(on: router)
    }

    /// The store, if consentgate writes it.
    private var writable: (any WritableConsentStore)? { store as? any WritableConsentStore }

    private func readOnly() -> Response {
        AdminRouter.error(
            .methodNotAllowed, "store_read_only",
            "the configured store (\(store.kind)) is read-only: change consent at its source", headers: [.allow: "GET"])
    }

    private func authorized(
        _ request: Request, _ context: BasicRequestContext, _ body: (String) async throws -> Response
    ) async throws -> Response {
        if let refusal = token.refusal(for: request, disabled: "the consent API is disabled: set admin.token to enable it") {
            return refusal
        }
        guard let raw = context.parameters.get("id"), let subject = PercentEncoding.decode(Substring(raw)), !subject.isEmpty else {
            return AdminRouter.error(.badRequest, "invalid_subject", "the subject id in the path is empty or not valid percent-encoded UTF-8")
        }
        return try await body(subject)
    }

    private func put(_ subject: String, _ request: Request) async throws -> Response {
        guard let store = writable else { return readOnly() }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: 64 * 1024)
        } catch is NIOTooManyBytesError {
            return AdminRouter.error(.contentTooLarge, "payload_too_large", "a consent document is at most 64 KB")
        }
        let document: ConsentDocument
        do throws(ConsentDocumentError) {
            document = try ConsentDocument.decode(body.readableBytesView)
        } catch {
            return AdminRouter.error(.badRequest, "invalid_consent", error.description)
        }
        do {
            let record = try await store.put(subject: subject, preferences: document.preferences, at: .now)
            resolver.invalidate(subject: subject)
            return AdminRouter.json(.ok, ConsentDocument.json(record))
        } catch {
            return storeFailure(error)
        }
    }

    private func get(_ subject: String) async -> Response {
        do {
            guard let record = try await store.lookup(subject: subject) else {
                return AdminRouter.error(.notFound, "unknown_subject", "the store holds no consent for this subject")
            }
            return AdminRouter.json(.ok, ConsentDocument.json(record))
        } catch {
            return storeFailure(error)
        }
    }

    private func delete(_ subject: String) async -> Response {
        guard let store = writable else { return readOnly() }
        do {
            let existed = try await store.delete(subject: subject)
            resolver.invalidate(subject: subject)
            guard existed else {
                return AdminRouter.error(.notFound, "unknown_subject", "the store holds no consent for this subject")
            }
            return Response(status: .noContent)
        } catch {
            return storeFailure(error)
        }
    }

    private func storeFailure(_ error: ConsentStoreError) -> Response {
        AdminRouter.error(
            .serviceUnavailable, "store_unavailable", "the consent store could not answer: \(error.code.rawValue)",
            headers: [.retryAfter: "5"])
    }
}
