import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

@Suite("Sandbox REST: companies, notes, data attributes, events")
struct CompaniesEventsTests {
    @Test("company operations answer what the official description's schema allows")
    func companies() async throws {
        try await RestHarness.with { api in
            let created = try await api.call(.post, "/companies", #"{"company_id":"acme-1","name":"Acme","plan":"pro","size":40,"custom_attributes":{"tier":"gold"}}"#,
                                             contract: "/companies")
            let id = try #require(created.json["id"]?.string)
            #expect(IntercomIDs.isObjectID(id))
            let again = try await api.call(.post, "/companies", #"{"company_id":"acme-1","industry":"Rockets"}"#, contract: "/companies")
            #expect(again.json["id"]?.string == id, "the same company_id updates the company")
            #expect(again.json["name"]?.string == "Acme")
            #expect(again.json["industry"]?.string == "Rockets")
            try await api.call(.get, "/companies/\(id)", contract: "/companies/{company_id}")
            let byCompanyID = try await api.call(.get, "/companies?company_id=acme-1", contract: "/companies")
            #expect(byCompanyID.json["data"]?.array?.first?["id"]?.string == id)
            #expect(try await api.call(.get, "/companies?company_id=nope").status == 404)
            try await api.call(.put, "/companies/\(id)", #"{"monthly_spend":900}"#, contract: "/companies/{company_id}")
            try await api.call(.post, "/companies/list?per_page=10", contract: "/companies/list")

            let contact = try await api.contact(#"{"email":"emp@acme.test"}"#)
            try await api.call(.post, "/contacts/\(contact)/companies", "{\"id\":\"\(id)\"}", contract: "/contacts/{contact_id}/companies")
            let listed = try await api.call(.get, "/contacts/\(contact)/companies", contract: "/contacts/{contact_id}/companies")
            #expect(listed.json["data"]?.array?.first?["user_count"]?.int == 1)
            let members = try await api.call(.get, "/companies/\(id)/contacts", contract: "/companies/{company_id}/contacts")
            #expect(members.json["data"]?.array?.first?["id"]?.string == contact)
            try await api.call(.delete, "/contacts/\(contact)/companies/\(id)", contract: "/contacts/{contact_id}/companies/{company_id}")
            let deleted = try await api.call(.delete, "/companies/\(id)", contract: "/companies/{company_id}")
            #expect(deleted.json["deleted"] == .bool(true))
            let gone = try await api.call(.get, "/companies/\(id)")
            #expect(gone.status == 404)
            #expect(errorCode(gone.json) == "company_not_found")
            #expect(try await api.call(.post, "/companies", #"{"name":"No id"}"#).status == 400)
        }
    }

    @Test("notes by id, data attributes, events and their summaries")
    func notesAttributesEvents() async throws {
        try await RestHarness.with { api in
            let contact = try await api.contact(#"{"email":"ev@example.com","external_id":"ev-1","custom_attributes":{"plan":"pro","seats":3}}"#)
            let note = try await api.call(.post, "/contacts/\(contact)/notes", #"{"body":"Prefers email"}"#)
            let noteID = try #require(note.json["id"]?.string)
            let shown = try await api.call(.get, "/notes/\(noteID)", contract: "/notes/{note_id}")
            #expect(shown.json["author"]?["email"]?.string == "ada@acme.test")

            let attributes = try await api.call(.get, "/data_attributes?model=contact", contract: "/data_attributes")
            let names = attributes.json["data"]?.array?.compactMap { $0["full_name"]?.string } ?? []
            #expect(names.contains("email") && names.contains("custom_attributes.plan") && names.contains("custom_attributes.seats"))
            #expect(try await api.call(.get, "/data_attributes?model=dog").status == 400)

            let now = Int(api.time.now().timeIntervalSince1970)
            for (name, offset) in [("ordered", 0), ("ordered", 60), ("refunded", 120)] {
                let sent = try await api.client.execute(uri: "/events", method: .post,
                    headers: [.authorization: "Bearer \(api.acme)", .contentType: "application/json"],
                    body: ByteBuffer(string: "{\"event_name\":\"\(name)\",\"created_at\":\(now + offset),\"user_id\":\"ev-1\",\"metadata\":{\"order\":\"A1\"}}"))
                #expect(sent.status == .accepted)
                #expect(sent.body.readableBytes == 0)
            }
            let summary = try await api.call(.get, "/events?type=user&intercom_user_id=\(contact)&summary=true", contract: "/events")
            let events = summary.json["events"]?.array ?? []
            #expect(events.map { $0["name"]?.string ?? "" } == ["ordered", "refunded"])
            #expect(events.first?["count"]?.int == 2)
            let unknown = try await api.call(.post, "/events", "{\"event_name\":\"x\",\"created_at\":\(now),\"email\":\"nobody@example.com\"}")
            #expect(unknown.status == 404)
            #expect(try await api.call(.post, "/events", "{\"created_at\":\(now),\"user_id\":\"ev-1\"}").status == 400)
        }
    }
}
