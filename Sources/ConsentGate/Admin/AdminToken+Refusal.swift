import HTTPTypes
import Hummingbird

extension AdminToken {
    /// The answer to a request the token does not let through, `nil` when it does: 403 while
    /// `admin.token` is unset (`disabled` says what is off), 401 without `Authorization: Bearer <token>`.
    func refusal(for request: Request, disabled: String) -> Response? {
        guard isEnabled else { return AdminRouter.error(.forbidden, "consent_api_disabled", disabled) }
        guard accepts(authorization: request.headers[.authorization]) else {
            return AdminRouter.error(
                .unauthorized, "unauthorized", "Authorization: Bearer <admin.token> is required", headers: [.wwwAuthenticate: "Bearer"])
        }
        return nil
    }
}
