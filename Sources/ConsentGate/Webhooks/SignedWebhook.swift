import ConsentCore
import ConsentStores
import FoundationEssentials
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// One `admin.webhooks` entry on the admin listener: `POST <path>` with a consent platform's own JSON
/// invalidates the subjects at the entry's pointers, so each one's next event is checked against the
/// store of record (the webhook carries no truth itself; the store stays the only source of it).
///
/// - With `signature`: the HMAC-SHA256 of the raw body must match (``WebhookSignature``); else 401 and
///   nothing is invalidated. The admin token is not asked for: the platform does not know it.
/// - Without `signature`: `Authorization: Bearer <admin.token>` is required (403 while the token is unset).
///
/// Answers `{"invalidated": N}`. Logs carry the webhook's name and counts, never a subject or the body.
struct SignedWebhook: Sendable {
    let name: String
    let path: String
    let signature: WebhookSignature?
    let subjects: WebhookSubjects
    let token: AdminToken
    let invalidate: @Sendable (String) -> Void
    let logger: Logger

    static let maxBodyBytes = 1 << 20
    static let maxSubjects = 10_000

    init(
        _ configuration: GatewayConfiguration.Admin.Webhook, token: AdminToken, logger: Logger,
        invalidate: @escaping @Sendable (String) -> Void
    ) {
        name = configuration.name
        path = configuration.path
        signature = configuration.signature.map(WebhookSignature.init)
        // The configuration checked every pointer.
        subjects = WebhookSubjects(pointers: configuration.subjectPointers.compactMap { try? JSONPointer($0) })
        self.token = token
        self.invalidate = invalidate
        self.logger = logger
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post(RouterPath(path)) { request, _ in try await handle(request) }
    }

    func handle(_ request: Request) async throws -> Response {
        if signature == nil,
            let refusal = token.refusal(for: request, disabled: "this webhook has no signature, so it needs admin.token, which is unset")
        {
            return refusal
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: Self.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return AdminRouter.error(.contentTooLarge, "payload_too_large", "a webhook body is at most 1 MiB")
        }
        let body = buffer.readableBytesView
        if let signature {
            let value = HTTPField.Name(signature.header).flatMap { request.headers[$0] }
            do throws(WebhookSignature.Failure) {
                try signature.verify(body: body, headerValue: value)
            } catch {
                logger.warning("a webhook's signature was refused", metadata: ["webhook": "\(name)", "reason": "\(error.reason)"])
                return AdminRouter.error(.unauthorized, "invalid_signature", "the \(signature.header) header does not sign this body")
            }
        }
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: Data(body))
        } catch {
            return AdminRouter.error(.badRequest, "invalid_request", "the body is not JSON")
        }
        let found = subjects.subjects(in: document)
        guard found.count <= Self.maxSubjects else {
            return AdminRouter.error(.badRequest, "too_many_subjects", "at most \(Self.maxSubjects) subjects per request")
        }
        for subject in found { invalidate(subject) }
        logger.debug("a webhook invalidated subjects", metadata: ["webhook": "\(name)", "subjects": "\(found.count)"])
        return AdminRouter.json(.ok, Array(#"{"invalidated":\#(found.count)}"#.utf8))
    }
}
