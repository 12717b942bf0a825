import Crypto

/// The few rules of HTTP caching and content coding the first-party CDN needs, as pure functions of
/// header values (RFC 9110 §8.8.3 and §13.1.2, RFC 9111 §5.2).
enum HTTPCaching {
    /// consentgate's ETag of a body it serves: weak, since one document is served gzip or identity.
    static func etag(of body: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        for byte in SHA256.hash(data: body).prefix(16) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 15)])
        }
        return "W/\"" + String(decoding: hex, as: UTF8.self) + "\""
    }

    /// Whether `If-None-Match` names `etag` (weak comparison, as the header requires) or is `*`.
    static func matches(ifNoneMatch: String?, etag: String) -> Bool {
        guard let ifNoneMatch else { return false }
        let wanted = opaque(etag)
        for candidate in ifNoneMatch.split(separator: ",") {
            let tag = String(candidate).trimmingSpaces
            if tag == "*" || opaque(tag) == wanted { return true }
        }
        return false
    }

    /// Whether `Accept-Encoding` accepts gzip: a `gzip`, `x-gzip` or `*` coding whose `q` is not 0.
    static func acceptsGzip(_ acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        for item in acceptEncoding.split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let coding = parts.first.map({ String($0).trimmingSpaces.lowercased() }), ["gzip", "x-gzip", "*"].contains(coding) else { continue }
            let refused = parts.dropFirst().contains { parameter in
                let pair = parameter.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces.lowercased() }
                return pair.count == 2 && pair[0] == "q" && (Double(pair[1]) ?? 1) == 0
            }
            if !refused { return true }
        }
        return false
    }

    /// What `Cache-Control` allows a shared cache: `nil` when it must not store (`no-store`, `private`),
    /// else the freshness lifetime in seconds (`s-maxage`, else `max-age`, else 0: revalidate each time).
    static func sharedLifetime(cacheControl: String?) -> Int? {
        guard let cacheControl else { return 0 }
        var maxAge: Int?
        var sharedMaxAge: Int?
        for directive in cacheControl.split(separator: ",") {
            let pair = directive.split(separator: "=", maxSplits: 1).map { String($0).trimmingSpaces.lowercased() }
            switch pair.first ?? "" {
            case "no-store", "private": return nil
            case "no-cache": return 0
            case "max-age" where pair.count == 2: maxAge = Int(pair[1].trimmingCharacters(in: "\""))
            case "s-maxage" where pair.count == 2: sharedMaxAge = Int(pair[1].trimmingCharacters(in: "\""))
            default: continue
            }
        }
        return max(0, sharedMaxAge ?? maxAge ?? 0)
    }

    /// An entity tag without its weakness prefix.
    private static func opaque(_ tag: some StringProtocol) -> Substring {
        let tag = Substring(tag)
        return tag.hasPrefix("W/") ? tag.dropFirst(2) : tag
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
