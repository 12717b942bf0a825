import HTTPTypes
import Hummingbird
import NIOCore
import SegmentWire

/// The JSON responses the gateway writes: Segment's success body and its error shape
/// `{"success": false, "code": "...", "message": "..."}`, which analytics-python reads.
enum GatewayResponse {
    private static let successBody = ByteBuffer(string: #"{"success":true}"#)

    static func success(headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: successBody))
    }

    static func error(
        _ status: HTTPResponse.Status,
        code: String,
        message: String,
        headers: HTTPFields = [:]
    ) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: errorBody(code: code, message: message)))
    }

    static func error(_ error: WireError, headers: HTTPFields = [:]) -> Response {
        self.error(HTTPResponse.Status(code: error.code.status), code: error.code.rawValue, message: error.message, headers: headers)
    }

    static func errorBody(code: String, message: String) -> ByteBuffer {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(48 + code.utf8.count + message.utf8.count)
        bytes.append(contentsOf: #"{"success":false,"code":"#.utf8)
        JSONString.appendQuoted(code, to: &bytes)
        bytes.append(contentsOf: #","message":"#.utf8)
        JSONString.appendQuoted(message, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return ByteBuffer(bytes: bytes)
    }
}
