@testable import ConsentGate
import ConsentStores
import Foundation
import Testing

/// The subjects a webhook body names at its pointers.
@Suite struct WebhookSubjectsTests {
    private func subjects(_ pointers: [String], _ body: String) throws -> [String] {
        let document = try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
        return WebhookSubjects(pointers: try pointers.map { try JSONPointer($0) }).subjects(in: document)
    }

    /// Didomi's webhook envelope (`type` + `parameters`, https://developers.didomi.io/integrations/generic-integrations/webhooks):
    /// `event.created` carries the event, whose `user` holds the organization's own id; `user.updated`
    /// carries `new_entity`, the user itself.
    @Test func didomiShapedEventsOfBothKinds() throws {
        let pointers = ["/parameters/entity/user/organization_user_id", "/parameters/new_entity/organization_user_id"]
        #expect(
            try subjects(
                pointers,
                #"{"type":"event.created","parameters":{"entity":{"id":"e1","user":{"id":"didomi-1","organization_user_id":"crm-42"}}}}"#)
                == ["crm-42"])
        #expect(
            try subjects(
                pointers, #"{"type":"user.updated","parameters":{"source":{},"old_entity":{},"new_entity":{"organization_user_id":"crm-7"}}}"#)
                == ["crm-7"])
    }

    /// Ketch's forwarder `ConsentRequest` (https://github.com/ketch-com/ketch-forwarder/blob/main/api/consent/v1/Consent.md).
    @Test func ketchShapedConsentRequest() throws {
        let body = #"""
            {"apiVersion":"consent/v1","kind":"ConsentRequest","metadata":{"uid":"u","tenant":"axonic"},
             "request":{"identities":[{"identitySpace":"account_id","identityFormat":"raw","identityValue":"123"}],
                        "purposes":{"advertising":"granted","email_mktg":"denied"},"context":{"account_id":"123"}}}
            """#
        #expect(try subjects(["/request/identities/0/identityValue", "/request/context/account_id"], body) == ["123"], "each subject once")
    }

    @Test func arraysOfStringsAndOddValues() throws {
        #expect(try subjects(["/ids"], #"{"ids":["a","b",7,"",null,"a"]}"#) == ["a", "b"])
        #expect(try subjects(["/missing", "/n"], #"{"n":5}"#) == [])
    }
}
