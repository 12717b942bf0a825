@testable import ConsentGate
import Testing

/// `admin.webhooks` in the configuration: read with Yams beside swift-configuration, validated, described.
@Suite struct WebhooksConfigurationTests {
    private func load(_ yaml: String, environment: [String: String] = [:]) throws(ConfigurationError) -> GatewayConfiguration {
        try GatewayConfiguration.load(yaml: yaml, environment: environment)
    }

    private func error(_ yaml: String) -> ConfigurationError? {
        do throws(ConfigurationError) {
            _ = try load(yaml)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsEntriesBesideTheRestOfAdmin() throws {
        let configuration = try load(
            """
            admin:
              port: 9191
              token: t0ken
              webhooks:
                - name: ketch
                  path: /webhooks/ketch
                  subject_pointers: [/request/identities/0/identityValue]
                  signature: {header: X-Sig, secret: s3cret-value, encoding: base64, prefix: "sha256="}
                - name: internal
                  path: /webhooks/internal
                  subject_pointers: [/ids]
            """, environment: ["CONSENTGATE_ADMIN_PORT": "9292"])
        #expect(configuration.admin.port == 9292, "environment overrides still apply to the rest of admin")
        #expect(configuration.admin.token == "t0ken")
        #expect(
            configuration.admin.webhooks == [
                .init(
                    name: "ketch", path: "/webhooks/ketch", subjectPointers: ["/request/identities/0/identityValue"],
                    signature: .init(header: "X-Sig", secret: "s3cret-value", encoding: .base64, prefix: "sha256=")),
                .init(name: "internal", path: "/webhooks/internal", subjectPointers: ["/ids"]),
            ])
        let text = configuration.redactedDescription
        #expect(!text.contains("s3cret-value") && !text.contains("t0ken"))
        #expect(text.contains("    - name: ketch\n      path: \"/webhooks/ketch\""))
        #expect(text.contains("      signature: null   # admin.token required"))
    }

    @Test func errorsNameTheEntryAndKey() {
        let base = "admin: {webhooks: [{name: a, path: /w/a, subject_pointers: [/id]"
        #expect(error(base + ", signature: {header: X-Sig}}]}")?.key == "admin.webhooks[0].signature.secret")
        #expect(error(base + ", signature: {secret: s}}]}")?.key == "admin.webhooks[0].signature.header")
        #expect(error(base + ", signature: {header: X, secret: s, encoding: rot13}}]}")?.key == "admin.webhooks[0].signature.encoding")
        #expect(error("admin: {webhooks: [{name: a, path: /w/a, subject_pointers: [id]}]}")?.key == "admin.webhooks[0].subject_pointers[0]")
        #expect(error("admin: {webhooks: [{name: a, path: /w/a}]}")?.key == "admin.webhooks[0].subject_pointers")
        #expect(error("admin: {webhooks: [{name: a, path: /metrics, subject_pointers: [/id]}]}")?.key == "admin.webhooks[0].path")
        #expect(error("admin: {webhooks: [{name: a, path: /consent/subjects/x, subject_pointers: [/id]}]}")?.key == "admin.webhooks[0].path")
        #expect(error("admin: {webhooks: [{name: a, path: nope, subject_pointers: [/id]}]}")?.key == "admin.webhooks[0].path")
        #expect(
            error("admin: {webhooks: [{name: a, path: /w/a, subject_pointers: [/id]}, {name: a, path: /w/b, subject_pointers: [/id]}]}")?.key
                == "admin.webhooks[1].name")
        #expect(
            error("admin: {webhooks: [{name: a, path: /w/a, subject_pointers: [/id]}, {name: b, path: /w/a, subject_pointers: [/id]}]}")?.key
                == "admin.webhooks[1].path")
    }

    @Test func noWebhooksIsTodaysBehaviour() throws {
        #expect(try load("admin: {token: x}").admin.webhooks.isEmpty)
        #expect(try load("admin: {webhooks: []}").admin.webhooks.isEmpty)
    }
}
