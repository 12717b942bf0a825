import Hummingbird
import SegmentWire
import NIOCore

/// The operator's listener: health, readiness, metrics, the debugger and the consent API.
enum AdminRouter {
    static func make(
        readiness: Readiness, consentAPI: ConsentAPI?, observability: AdminObservability, webhooks: [SignedWebhook] = []
    ) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        consentAPI?.register(on: router)
        for webhook in webhooks { webhook.register(on: router) }
        observability.register(on: router)
        router.get("healthz") { _, _ in
            jsonResponse(.ok, #"{"status":"ok"}"#)
        }
        router.get("readyz") { _, _ in
            let problems = await readiness.problems()
            observability.metrics.readiness(problems.isEmpty)
            if problems.isEmpty { return jsonResponse(.ok, #"{"status":"ready"}"#) }
            var body: [UInt8] = Array(#"{"status":"not_ready","problems":["#.utf8)
            for (index, problem) in problems.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                JSONString.appendQuoted(problem, to: &body)
            }
            body.append(contentsOf: "]}".utf8)
            return Response(status: .serviceUnavailable, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        return router
    }

    static func jsonResponse(_ status: HTTPResponse.Status, _ json: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: json)))
    }

    static func json(_ status: HTTPResponse.Status, _ bytes: [UInt8], headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: GatewayResponse.errorBody(code: code, message: message)))
    }
}
