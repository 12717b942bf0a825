@testable import ConsentGate
import Foundation
import Testing

/// Each CMP's answer as the store of record with only configuration (the README's ready configurations),
/// and a signed webhook that makes the next event see the new truth.
///
/// The fixtures are written from each vendor's public documentation of the response, cited per case.
@Suite(.timeLimit(.minutes(3)))
struct CMPStoreGatewayTests {
    struct CMP: Sendable, CustomStringConvertible {
        var description: String
        /// The README's configuration; `URL` stands for the test service's address.
        var yaml: String
        /// Grants Advertising and Analytics to the subject.
        var granted: String
        /// Withdraws Advertising (or answers a status nobody mapped).
        var withdrawn: String
        /// The platform's change notification for the subject, if it pushes one with a signature.
        var webhook: (path: String, body: String)?
        /// For a service that answers an unknown subject with 200 and an empty answer.
        var unknown: String?
        /// Whether the service takes the subject in a JSON body (Ketch) rather than the URL.
        var postsBody = false
    }

    /// OneTrust, "Get Data Subject's Preferences" (V2): a list of purposes, each with its id and its
    /// current status (https://developer.onetrust.com/onetrust/reference/getrealtimepreferences; statuses as
    /// listed in ../shared/reference/consent-landscape.md §4). Purposes are GUIDs, so aliases name them.
    static let oneTrust = CMP(
        description: "OneTrust",
        yaml: """
            store:
              kind: http
              http:
                url_template: URL
                preferences_pointer: /purposes
                item: {key: /id, value: /status}
                status_mapping:
                  granted: [ACTIVE, ALWAYS_ACTIVE]
                  denied: [OPT_OUT, HARD_OPT_OUT, WITHDRAWN, EXPIRED, NO_CONSENT, PENDING]
              category_aliases:
                6c1a0c0e-aaaa-4c2b-ab60-ad45901dfb16: Analytics
                05047a65-bbbb-4c2b-ab60-ad45901dfb16: Advertising
            """,
        granted: #"""
            {"identifier":"user-1","purposes":[
              {"id":"6c1a0c0e-aaaa-4c2b-ab60-ad45901dfb16","name":"Analytics","status":"ALWAYS_ACTIVE","version":2},
              {"id":"05047a65-bbbb-4c2b-ab60-ad45901dfb16","name":"Advertising","status":"ACTIVE","version":1}]}
            """#,
        withdrawn: #"""
            {"identifier":"user-1","purposes":[
              {"id":"6c1a0c0e-aaaa-4c2b-ab60-ad45901dfb16","name":"Analytics","status":"ACTIVE"},
              {"id":"05047a65-bbbb-4c2b-ab60-ad45901dfb16","name":"Advertising","status":"SOMETHING_NEW"}]}
            """#)

    /// Didomi, `GET /consents/users?organization_id=…&organization_user_id=…`: a page of users, each
    /// with `consents.purposes`, a list of `{id, enabled}`; an unknown user is an empty page
    /// (https://developers.didomi.io/api-and-platform/consents/users). Webhook: `{type, parameters}` with
    /// the user under the event (https://developers.didomi.io/integrations/generic-integrations/webhooks).
    static let didomi = CMP(
        description: "Didomi",
        yaml: """
            store:
              kind: http
              http:
                url_template: URL
                preferences_pointer: /data/0/consents/purposes
                item: {key: /id, value: /enabled}
                unknown_if_absent: true
              category_aliases: {analytics: Analytics, advertising: Advertising}
            admin:
              webhooks:
                - name: didomi
                  path: /webhooks/didomi
                  subject_pointers: [/parameters/entity/user/organization_user_id, /parameters/new_entity/organization_user_id]
                  signature: {header: X-Webhook-Signature, secret: didomi-shared-secret, encoding: hex, prefix: "sha256="}
            """,
        granted: #"""
            {"data":[{"id":"d1","organization_id":"acme","organization_user_id":"user-1",
              "consents":{"purposes":[{"id":"analytics","enabled":true},{"id":"advertising","enabled":true}]}}],
             "total":1,"limit":100}
            """#,
        withdrawn: #"""
            {"data":[{"id":"d1","organization_id":"acme","organization_user_id":"user-1",
              "consents":{"purposes":[{"id":"analytics","enabled":true},{"id":"advertising","enabled":false}]}}],
             "total":1,"limit":100}
            """#,
        webhook: (
            "/webhooks/didomi",
            #"{"type":"event.created","parameters":{"entity":{"id":"ev-1","user":{"id":"d1","organization_user_id":"user-1"},"consents":{"purposes":[{"id":"advertising","enabled":false}]}}}}"#
        ),
        unknown: #"{"data":[],"total":0,"limit":100}"#)

    /// Ketch, web API `getConsent` (`POST …/consent/{organizationCode}/get` with `identities` and `purposes`
    /// in the body): `purposes` is an object of purpose code → `{allowed: "true"|"false", legalBasisCode}`
    /// (https://www.npmjs.com/package/@ketch-sdk/ketch-web-api). Webhook: the forwarder's `ConsentRequest`
    /// (https://github.com/ketch-com/ketch-forwarder/blob/main/api/consent/v1/Consent.md).
    static let ketch = CMP(
        description: "Ketch",
        yaml: """
            store:
              kind: http
              http:
                url_template: URL
                method: POST
                body_template: '{"organizationCode":"acme","propertyCode":"web","environmentCode":"production","jurisdictionCode":"gdpr","identities":{"account_id":"{subject}"},"purposes":{"analytics":{"legalBasisCode":"consent_optin"},"advertising":{"legalBasisCode":"consent_optin"}}}'
                preferences_pointer: /purposes
                item: {value: /allowed}
                status_mapping: {granted: ["true"], denied: ["false"]}
              category_aliases: {analytics: Analytics, advertising: Advertising}
            admin:
              webhooks:
                - name: ketch
                  path: /webhooks/ketch
                  subject_pointers: [/request/identities/0/identityValue]
                  signature: {header: X-Ketch-Signature, secret: ketch-shared-secret, encoding: base64}
            """,
        granted: #"""
            {"organizationCode":"acme","propertyCode":"web","environmentCode":"production","jurisdictionCode":"gdpr",
             "identities":{"account_id":"user-1"},
             "purposes":{"analytics":{"allowed":"true","legalBasisCode":"consent_optin"},
                         "advertising":{"allowed":"true","legalBasisCode":"consent_optin"}}}
            """#,
        withdrawn: #"""
            {"organizationCode":"acme","identities":{"account_id":"user-1"},
             "purposes":{"analytics":{"allowed":"true","legalBasisCode":"consent_optin"},
                         "advertising":{"allowed":"false","legalBasisCode":"consent_optin"}}}
            """#,
        webhook: (
            "/webhooks/ketch",
            #"{"apiVersion":"consent/v1","kind":"ConsentRequest","metadata":{"uid":"22880925","tenant":"acme"},"request":{"property":"web","environment":"production","regulation":"gdpr","jurisdiction":"eugdpr","identities":[{"identitySpace":"account_id","identityFormat":"raw","identityValue":"user-1"}],"purposes":{"advertising":"denied","analytics":"granted"},"legalBasis":{"advertising":"consent_optin"},"collectedAt":12345984398}}"#
        ),
        postsBody: true)

    /// Transcend, Consent API `GET /sync` (getConsentSync, "Get Consent and Preference State"): the consent
    /// state holds `purposes`, an object of purpose → boolean (shape as captured from Transcend's Consent API
    /// description, https://raw.githubusercontent.com/api-evangelist/transcend-io/refs/heads/main/examples/transcend-consent-sync-example.json).
    /// Today's flat shape: no `item` keys needed.
    static let transcend = CMP(
        description: "Transcend",
        yaml: """
            store:
              kind: http
              http:
                url_template: URL
                preferences_pointer: /consent/purposes
            """,
        granted: #"{"consent":{"purposes":{"Analytics":true,"Advertising":true},"confirmed":true,"timestamp":"2026-05-25T17:21:04Z"}}"#,
        withdrawn: #"{"consent":{"purposes":{"Analytics":true,"Advertising":false},"confirmed":true,"timestamp":"2026-05-26T09:00:00Z"}}"#)

    static func batch(_ subject: String) -> String {
        TestEvents.batch([TestEvents.track(userId: subject, anonymousId: nil, stamp: ["Advertising": true, "Analytics": true])])
    }

    @Test(arguments: [oneTrust, didomi, ketch, transcend])
    func worksAsTheStoreOfRecordWithOnlyConfiguration(_ cmp: CMP) async throws {
        let service = try await CustomerConsentService.start()
        defer { Task { await service.stop() } }
        let url = cmp.postsBody ? service.bodyURL : (cmp.unknown != nil ? service.queryURLTemplate : service.urlTemplate)
        let loaded = try GatewayConfiguration.load(yaml: cmp.yaml.replacingOccurrences(of: "URL", with: url), environment: [:])
        if let unknown = cmp.unknown { service.answerUnknown(with: unknown) }
        service.set("user-1", cmp.granted)
        try await GatewayHarness.with({ configuration in
            configuration.store = loaded.store
            configuration.admin.webhooks = loaded.admin.webhooks
        }) { harness in
            #expect(try await harness.post("/v1/batch", json: Self.batch("user-1")).status == 200)
            #expect(harness.sink.received.count == 1, "the CMP grants both stamped categories")

            service.set("user-1", cmp.withdrawn)
            harness.sink.reset()
            #expect(try await harness.post("/v1/batch", json: Self.batch("user-1")).status == 200)
            #expect(harness.sink.received.count == 1, "cached until the platform says otherwise")

            if let webhook = cmp.webhook, let entry = harness.configuration.admin.webhooks.first, let settings = entry.signature {
                let body = Array(webhook.body.utf8)
                let signature = WebhookSignature(settings)
                let wrong = WebhookSignature(.init(header: settings.header, secret: "not-the-secret", encoding: settings.encoding, prefix: settings.prefix))
                for headers in [[(settings.header, wrong.sign(body))], [], [("Authorization", "Bearer \(GatewayHarness.adminToken)")]] {
                    let refused = try await harness.send(harness.admin + webhook.path, body: body, headers: headers, method: .POST)
                    #expect(refused.status == 401)
                }
                harness.sink.reset()
                #expect(try await harness.post("/v1/batch", json: Self.batch("user-1")).status == 200)
                #expect(harness.sink.received.count == 1, "a refused webhook invalidates nothing")

                let accepted = try await harness.send(
                    harness.admin + webhook.path, body: body, headers: [(settings.header, signature.sign(body))], method: .POST)
                #expect(accepted.status == 200)
                #expect(accepted.body == #"{"invalidated":1}"#)
            } else {
                let auth = [("Authorization", "Bearer \(GatewayHarness.adminToken)"), ("Content-Type", "application/json")]
                let pushed = try await harness.send(
                    harness.admin + "/consent/invalidate", body: Array(#"{"subjects":["user-1"]}"#.utf8), headers: auth, method: .POST)
                #expect(pushed.status == 200)
            }
            harness.sink.reset()
            #expect(try await harness.post("/v1/batch", json: Self.batch("user-1")).status == 200)
            #expect(harness.sink.received.isEmpty, "the next event sees the withdrawn (or unmapped, so denied) Advertising")

            if cmp.unknown != nil {
                harness.sink.reset()
                let reply = try await harness.post("/v1/batch", json: Self.batch("nobody"))
                #expect(reply.status == 200, "an empty page is an unknown subject, not an outage")
                #expect(harness.sink.received.isEmpty, "unknown subjects are dropped by the default policy")
            }
        }
    }
}
