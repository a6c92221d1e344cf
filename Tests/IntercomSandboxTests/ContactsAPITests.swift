import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

@Suite("Sandbox REST: contacts, tags, notes, admins")
struct ContactsAPITests {
    @Test("every contact operation answers what the official description's schema allows")
    func contract() async throws {
        try await RestHarness.with { api in
            let id = try await api.contact(#"{"email":"joe@example.com","name":"Joe","external_id":"ext-1","custom_attributes":{"plan":"pro"}}"#)
            #expect(IntercomIDs.isObjectID(id))
            let lead = try await api.contact(#"{"role":"lead","name":"Lead"}"#)

            let shown = try await api.call(.get, "/contacts/\(id)", contract: "/contacts/{contact_id}")
            #expect(shown.json["email"]?.string == "joe@example.com")
            #expect(shown.json["custom_attributes"]?["plan"]?.string == "pro")
            #expect(shown.json["workspace_id"]?.string == "acme7x2k")
            let updated = try await api.call(.put, "/contacts/\(id)", #"{"name":"Joe B","phone":"+353"}"#, contract: "/contacts/{contact_id}")
            #expect(updated.json["name"]?.string == "Joe B")
            try await api.call(.get, "/contacts", contract: "/contacts")
            try await api.call(.post, "/contacts/search", #"{"query":{"field":"email","operator":"=","value":"joe@example.com"}}"#, contract: "/contacts/search")
            let found = try await api.call(.get, "/contacts/find_by_external_id/ext-1", contract: "/contacts/find_by_external_id/{external_id}")
            #expect(found.json["id"]?.string == id)

            let tag = try await api.call(.post, "/tags", #"{"name":"VIP"}"#, contract: "/tags")
            let tagID = try #require(tag.json["id"]?.string)
            try await api.call(.post, "/contacts/\(id)/tags", "{\"id\":\"\(tagID)\"}", contract: "/contacts/{contact_id}/tags")
            let tags = try await api.call(.get, "/contacts/\(id)/tags", contract: "/contacts/{contact_id}/tags")
            #expect(tags.json["data"]?.array?.count == 1)
            try await api.call(.get, "/tags", contract: "/tags")
            let note = try await api.call(.post, "/contacts/\(id)/notes", #"{"body":"Called about billing"}"#, contract: "/contacts/{contact_id}/notes")
            #expect(note.json["body"]?.string == "<p>Called about billing</p>")
            try await api.call(.get, "/contacts/\(id)/notes", contract: "/contacts/{contact_id}/notes")
            try await api.call(.get, "/tags/\(tagID)", contract: "/tags/{tag_id}")
            let inUse = try await api.call(.delete, "/tags/\(tagID)", contract: "/tags/{tag_id}")
            #expect(inUse.status == 400)
            #expect(errorCode(inUse.json) == "tag_has_dependent_objects")
            try await api.call(.delete, "/contacts/\(id)/tags/\(tagID)", contract: "/contacts/{contact_id}/tags/{tag_id}")
            let removed = try await api.client.execute(uri: "/tags/\(tagID)", method: .delete, headers: [.authorization: "Bearer \(api.acme)"])
            #expect(removed.status == .ok)
            #expect(removed.body.readableBytes == 0)
            #expect(try await api.call(.get, "/tags/\(tagID)").status == 404)

            let merged = try await api.call(.post, "/contacts/merge", "{\"from\":\"\(lead)\",\"into\":\"\(id)\"}", contract: "/contacts/merge")
            #expect(merged.json["id"]?.string == id)
            #expect(try await api.call(.get, "/contacts/\(lead)").status == 404, "the lead is gone after the merge")

            try await api.call(.post, "/contacts/\(id)/archive", contract: "/contacts/{contact_id}/archive")
            try await api.call(.post, "/contacts/\(id)/unarchive", contract: "/contacts/{contact_id}/unarchive")
            let deleted = try await api.call(.delete, "/contacts/\(id)", contract: "/contacts/{contact_id}")
            #expect(deleted.json["deleted"] == .bool(true))

            try await api.call(.get, "/admins", contract: "/admins")
            try await api.call(.get, "/admins/991267001", contract: "/admins/{admin_id}")
            try await api.call(.get, "/contacts", token: "nope", contract: "/contacts")
        }
    }

    @Test("a contact needs an email, an external_id or a role; bad values name their field")
    func validation() async throws {
        try await RestHarness.with { api in
            let cases: [(String, Int, String, String?)] = [
                (#"{"name":"x"}"#, 400, "parameter_not_found", "email"),
                (#"{"email":42}"#, 400, "parameter_invalid", "email"),
                (#"{"email":"not-an-email"}"#, 400, "data_invalid", "email"),
                (#"{"role":"admin"}"#, 400, "parameter_invalid", "role"),
                (#"{"email":"a@b.co","signed_up_at":"yesterday"}"#, 400, "parameter_invalid", "signed_up_at"),
                (#"{"email":"a@b.co","shoe_size":9}"#, 400, "parameter_invalid", "shoe_size"),
                (#"{"email":"#, 400, "bad_request", nil),
            ]
            for (body, status, code, field) in cases {
                let response = try await api.call(.post, "/contacts", body)
                #expect(response.status == status, "\(body)")
                #expect(errorCode(response.json) == code, "\(body) → \(response.json)")
                #expect(errorField(response.json) == field, "\(body)")
                #expect(response.json["type"]?.string == "error.list")
                #expect(response.json["request_id"]?.string?.count == 36)
            }
            #expect(try await api.call(.get, "/contacts").json["total_count"]?.int == 0, "nothing was stored")
        }
    }

    @Test("a second contact with the same external_id, or a second user with the same email, is a 409 conflict")
    func conflicts() async throws {
        try await RestHarness.with { api in
            let first = try await api.contact(#"{"email":"dup@example.com","external_id":"x1"}"#)
            let sameExternal = try await api.call(.post, "/contacts", #"{"email":"other@example.com","external_id":"x1"}"#)
            #expect(sameExternal.status == 409)
            #expect(errorCode(sameExternal.json) == "conflict")
            #expect(sameExternal.json["errors"]?.array?.first?["message"]?.string?.contains(first) == true)
            #expect(try await api.call(.post, "/contacts", #"{"email":"DUP@example.com"}"#).status == 409)
            #expect(try await api.call(.post, "/contacts", #"{"email":"dup@example.com","role":"lead"}"#).status == 200, "leads may share an email")
        }
    }

    @Test("missing, unknown and revoked tokens, unknown ids and unknown versions are Intercom's errors")
    func errors() async throws {
        try await RestHarness.with { api in
            let anonymous = try await api.client.execute(uri: "/contacts", method: .get)
            #expect(anonymous.status == .unauthorized)
            #expect(errorCode(JSONNode.parse(Data(anonymous.body.readableBytesView))!) == "unauthorized")
            #expect(errorCode(try await api.call(.get, "/contacts", token: "bogus").json) == "unauthorized")
            #expect(await api.state.revoke(token: api.globex))
            let revoked = try await api.call(.get, "/contacts", token: api.globex)
            #expect(revoked.status == 401)
            #expect(errorCode(revoked.json) == "token_revoked")

            let missing = try await api.call(.get, "/contacts/000000000000000000000000")
            #expect(missing.status == 404)
            #expect(errorCode(missing.json) == "not_found")

            #expect(try await api.call(.get, "/contacts", headers: [HTTPField.Name("Intercom-Version")!: "2.14"]).status == 200)
            let badVersion = try await api.call(.get, "/contacts", headers: [HTTPField.Name("Intercom-Version")!: "9.9"])
            #expect(badVersion.status == 400)
            #expect(errorCode(badVersion.json) == "intercom_version_invalid")
        }
    }

    @Test("each workspace sees only its own contacts")
    func isolation() async throws {
        try await RestHarness.with { api in
            let id = try await api.contact(#"{"email":"acme-only@example.com"}"#)
            #expect(try await api.call(.get, "/contacts/\(id)", token: api.globex).status == 404)
            #expect(try await api.call(.get, "/contacts", token: api.globex).json["total_count"]?.int == 0)
            let search = try await api.call(.post, "/contacts/search", #"{"query":{"field":"email","operator":"=","value":"acme-only@example.com"}}"#, token: api.globex)
            #expect(search.json["total_count"]?.int == 0)
            #expect(try await api.call(.delete, "/contacts/\(id)", token: api.globex).status == 404)
            #expect(try await api.call(.get, "/contacts/\(id)").status == 200)
        }
    }

    @Test("archived contacts leave lists and searches, and come back when unarchived")
    func archive() async throws {
        try await RestHarness.with { api in
            let id = try await api.contact(#"{"email":"arch@example.com"}"#)
            let archived = try await api.call(.post, "/contacts/\(id)/archive")
            #expect(archived.json["archived"] == .bool(true))
            #expect(try await api.call(.get, "/contacts").json["total_count"]?.int == 0)
            try await api.call(.post, "/contacts/\(id)/unarchive")
            #expect(try await api.call(.get, "/contacts").json["total_count"]?.int == 1)
        }
    }
}
