import ConsentCore
import FoundationEssentials
import Hummingbird
import NIOCore

/// `POST /consent/invalidate` on the admin listener, for consent platforms that push changes
/// (Ketch's forwarder, Didomi's webhooks, the customer's own jobs): `{"subjects": ["id", ...]}` drops
/// those subjects from this replica's cache, so their next event is checked against the store.
///
/// Requires `Authorization: Bearer <admin.token>`; works with every store. Answers
/// `{"invalidated": N}`. At most ``maxSubjects`` subjects and ``maxBodyBytes`` per request.
struct InvalidationWebhook: Sendable {
    let resolver: ConsentResolver
    let token: AdminToken

    static let maxBodyBytes = 1 << 20
    static let maxSubjects = 10_000

    private struct Body: Decodable {
        var subjects: [String]
    }

    func register(on router: Router<BasicRequestContext>) {
        router.post("consent/invalidate") { request, _ in try await invalidate(request) }
    }

    private func invalidate(_ request: Request) async throws -> Response {
        if let refusal = token.refusal(for: request, disabled: "the consent API is disabled: set admin.token to enable it") {
            return refusal
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: Self.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            return AdminRouter.error(.contentTooLarge, "payload_too_large", "an invalidation request is at most 1 MiB")
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(buffer.readableBytesView))
        } catch {
            return AdminRouter.error(.badRequest, "invalid_request", "the body must be {\"subjects\": [\"subject id\", ...]}")
        }
        guard body.subjects.count <= Self.maxSubjects else {
            return AdminRouter.error(.badRequest, "too_many_subjects", "at most \(Self.maxSubjects) subjects per request")
        }
        guard !body.subjects.contains(where: \.isEmpty) else {
            return AdminRouter.error(.badRequest, "invalid_subject", "a subject id is empty")
        }
        for subject in body.subjects {
            resolver.invalidate(subject: subject)
        }
        return AdminRouter.json(.ok, Array(#"{"invalidated":\#(body.subjects.count)}"#.utf8))
    }
}
