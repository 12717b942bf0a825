import ConsentStores

extension GatewayConfiguration.Admin {
    /// One entry of `admin.webhooks`: a path on the admin listener where a consent platform POSTs its own
    /// JSON when a subject's consent changes; the subjects found at ``subjectPointers`` are invalidated.
    ///
    /// ```yaml
    /// admin:
    ///   webhooks:
    ///     - name: ketch
    ///       path: /webhooks/ketch
    ///       subject_pointers: [/request/identities/0/identityValue]
    ///       signature: {header: X-Signature, secret: "...", encoding: hex, prefix: "sha256="}
    /// ```
    public struct Webhook: Sendable, Hashable {
        /// `name`: unique, 1 to 64 of `A-Z a-z 0-9 _ . -`; the metric and log label.
        public var name: String
        /// `path`: absolute, unique, not one of the admin listener's own routes.
        public var path: String
        /// `subject_pointers`: RFC 6901 pointers into the body; each names a subject id or a list of them.
        public var subjectPointers: [String]
        /// `signature`: the HMAC the sender adds; without one the admin token is required.
        public var signature: Signature?

        public init(name: String, path: String, subjectPointers: [String], signature: Signature? = nil) {
            self.name = name
            self.path = path
            self.subjectPointers = subjectPointers
            self.signature = signature
        }

        /// `signature`: an HMAC-SHA256 of the raw body, in a request header.
        public struct Signature: Sendable, Hashable {
            /// `encoding`.
            public enum Encoding: String, Sendable, Hashable, CaseIterable {
                case hex
                case base64
            }

            /// `header`: the request header that carries the signature.
            public var header: String
            /// `secret`: the HMAC key (its UTF-8 bytes). A secret.
            public var secret: String
            /// `encoding` (default `hex`).
            public var encoding = Encoding.hex
            /// `prefix`: text before the digest in the header, e.g. `sha256=`; empty for none.
            public var prefix = ""

            public init(header: String, secret: String, encoding: Encoding = .hex, prefix: String = "") {
                self.header = header
                self.secret = secret
                self.encoding = encoding
                self.prefix = prefix
            }
        }
    }
}

extension GatewayConfiguration {
    /// Paths of the admin listener's own routes, which a webhook may not take.
    static let reservedAdminPaths = ["/healthz", "/readyz", "/metrics", "/debugger", "/consent/invalidate"]

    /// Reads `admin.webhooks` (one reader per entry), then checks what spans entries: a duplicate name or path.
    static func readWebhooks(_ entries: [ConfigValues]) throws(ConfigurationError) -> [Admin.Webhook] {
        var webhooks: [Admin.Webhook] = []
        var names: [String: Int] = [:]
        var paths: [String: Int] = [:]
        for (index, values) in entries.enumerated() {
            let webhook = try readWebhook(values)
            if let first = names[webhook.name] {
                throw ConfigurationError(key: values.fullKey("name"), "'\(webhook.name)' is already the name of admin.webhooks[\(first)]")
            }
            if let first = paths[webhook.path] {
                throw ConfigurationError(key: values.fullKey("path"), "'\(webhook.path)' is already the path of admin.webhooks[\(first)]")
            }
            names[webhook.name] = index
            paths[webhook.path] = index
            webhooks.append(webhook)
        }
        return webhooks
    }

    private static func readWebhook(_ values: ConfigValues) throws(ConfigurationError) -> Admin.Webhook {
        let name = try values.string("name", default: "").trimmingSpaces
        guard !name.isEmpty, name.utf8.count <= 64, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_.-".contains($0)) })
        else {
            throw ConfigurationError(key: values.fullKey("name"), "is required: 1 to 64 of A-Z a-z 0-9 _ . -")
        }
        let path = try values.string("path", default: "").trimmingSpaces
        guard path.hasPrefix("/"), path.count > 1, !path.hasSuffix("/"),
            path.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/_.-".contains($0)) }), !path.contains("//")
        else {
            throw ConfigurationError(key: values.fullKey("path"), "must be an absolute path of A-Z a-z 0-9 / _ . -, e.g. /webhooks/ketch")
        }
        if let reserved = reservedAdminPaths.first(where: { path == $0 || path.hasPrefix($0 + "/") }) ?? (path.hasPrefix("/consent/subjects") ? "/consent/subjects" : nil) {
            throw ConfigurationError(key: values.fullKey("path"), "'\(reserved)' is the admin listener's own route")
        }
        let pointers = try values.strings("subject_pointers", default: [])
        guard !pointers.isEmpty else {
            throw ConfigurationError(key: values.fullKey("subject_pointers"), "must list at least one JSON pointer, e.g. [/user/id]")
        }
        for (index, pointer) in pointers.enumerated() {
            do {
                _ = try JSONPointer(pointer)
            } catch {
                throw ConfigurationError(key: values.fullKey("subject_pointers") + "[\(index)]", error.reason)
            }
        }
        var signature: Admin.Webhook.Signature?
        if values.isSet("signature.header") || values.isSet("signature.secret") || values.isSet("signature.encoding")
            || values.isSet("signature.prefix")
        {
            let scoped = values.scoped(to: "signature")
            let header = try scoped.string("header", default: "").trimmingSpaces
            guard !header.isEmpty, header.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) }) else {
                throw ConfigurationError(key: scoped.fullKey("header"), "is required: the request header carrying the signature")
            }
            let secret = try scoped.string("secret", default: "", isSecret: true)
            guard !secret.isEmpty else {
                throw ConfigurationError(key: scoped.fullKey("secret"), "is required: the HMAC-SHA256 key the sender signs with")
            }
            signature = Admin.Webhook.Signature(
                header: header, secret: secret,
                encoding: try scoped.choice("encoding", default: .hex),
                prefix: try scoped.string("prefix", default: ""))
        }
        return Admin.Webhook(name: name, path: path, subjectPointers: pointers, signature: signature)
    }

    /// `check-config`'s `admin.webhooks:` lines; secrets redacted.
    var webhooksDescription: [String] {
        guard !admin.webhooks.isEmpty else { return ["  webhooks: []"] }
        var lines = ["  webhooks:"]
        for webhook in admin.webhooks {
            lines.append("    - name: \(webhook.name)")
            lines.append("      path: \(Self.yamlQuoted(webhook.path))")
            lines.append("      subject_pointers: [" + webhook.subjectPointers.map(Self.yamlQuoted).joined(separator: ", ") + "]")
            if let signature = webhook.signature {
                lines.append("      signature:")
                lines.append("        header: \(signature.header)")
                lines.append("        secret: \"<redacted>\"")
                lines.append("        encoding: \(signature.encoding.rawValue)")
                lines.append("        prefix: \(Self.yamlQuoted(signature.prefix))")
            } else {
                lines.append("      signature: null   # admin.token required")
            }
        }
        return lines
    }
}
