import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

@Suite("Sandbox REST: tickets and ticket types")
struct TicketsAPITests {
    @Test("every ticket operation answers what the official description's schema allows")
    func contract() async throws {
        try await RestHarness.with { api in
            let types = try await api.call(.get, "/ticket_types", contract: "/ticket_types")
            #expect(types.json["data"]?.array?.count == 3)
            try await api.call(.get, "/ticket_types/1", contract: "/ticket_types/{ticket_type_id}")
            let contact = try await api.contact(#"{"email":"ticket@example.com","external_id":"t-1"}"#)
            let created = try await api.call(.post, "/tickets", """
                {"ticket_type_id":"1","contacts":[{"external_id":"t-1"}],
                 "ticket_attributes":{"_default_title_":"App crashes on login","_default_description_":"Since v2.3"}}
                """, contract: "/tickets")
            #expect(created.status == 200, "\(created.json)")
            let id = try #require(created.json["id"]?.string)
            #expect(created.json["ticket_id"]?.string == "1")
            #expect(created.json["ticket_state"]?["category"]?.string == "submitted")
            #expect(created.json["contacts"]?["contacts"]?.array?.first?["id"]?.string == contact)

            try await api.call(.get, "/tickets/\(id)", contract: "/tickets/{ticket_id}")
            let reply = try await api.call(.post, "/tickets/\(id)/reply", "{\"message_type\":\"comment\",\"type\":\"admin\",\"admin_id\":\"\(ada)\",\"body\":\"We are on it\"}",
                                           contract: "/tickets/{ticket_id}/reply")
            #expect(reply.json["part_type"]?.string == "comment")
            try await api.call(.post, "/tickets/\(id)/reply", "{\"message_type\":\"comment\",\"type\":\"user\",\"intercom_user_id\":\"\(contact)\",\"body\":\"Thanks\"}",
                               contract: "/tickets/{ticket_id}/reply")
            let progressed = try await api.call(.put, "/tickets/\(id)", "{\"ticket_state_id\":\"2\",\"admin_id\":\"\(ada)\",\"assignee_id\":\"\(ada)\"}",
                                                contract: "/tickets/{ticket_id}")
            #expect(progressed.json["ticket_state"]?["category"]?.string == "in_progress")
            #expect(progressed.json["admin_assignee_id"]?.string == ada)
            let resolved = try await api.call(.put, "/tickets/\(id)", #"{"open":false}"#, contract: "/tickets/{ticket_id}")
            #expect(resolved.json["open"] == .bool(false))
            #expect(resolved.json["ticket_state"]?["category"]?.string == "resolved")
            let search = try await api.call(.post, "/tickets/search", "{\"query\":{\"field\":\"contact_ids\",\"operator\":\"=\",\"value\":\"\(contact)\"}}",
                                            contract: "/tickets/search")
            #expect(search.json["tickets"]?.array?.count == 1)
        }
    }

    @Test("search tickets by state and title; the list is newest first")
    func search() async throws {
        try await RestHarness.with { api in
            _ = try await api.contact(#"{"email":"s@example.com"}"#)
            var ids: [String] = []
            for title in ["Refund please", "Login broken", "Refund again"] {
                let created = try await api.call(.post, "/tickets", "{\"ticket_type_id\":\"2\",\"contacts\":[{\"email\":\"s@example.com\"}],\"ticket_attributes\":{\"_default_title_\":\"\(title)\"}}")
                ids.append(try #require(created.json["id"]?.string))
                api.time.advance(1)
            }
            try await api.call(.put, "/tickets/\(ids[1])", #"{"open":false}"#)
            func found(_ query: String) async throws -> [String] {
                try await api.call(.post, "/tickets/search", "{\"query\":\(query)}").json["tickets"]?.array?.compactMap { $0["id"]?.string } ?? []
            }
            #expect(try await found(#"{"field":"title","operator":"~","value":"refund"}"#) == [ids[2], ids[0]])
            #expect(try await found(#"{"field":"state","operator":"=","value":"resolved"}"#) == [ids[1]])
            #expect(try await found(#"{"field":"open","operator":"=","value":true}"#).count == 2)
        }
    }

    @Test("bad tickets are refused with their field named", arguments: [
        (#"{"contacts":[{"id":"x"}]}"#, 400, "parameter_not_found"),
        (#"{"ticket_type_id":"1"}"#, 400, "parameter_not_found"),
        (#"{"ticket_type_id":"99","contacts":[{"email":"k@example.com"}],"ticket_attributes":{"_default_title_":"x"}}"#, 404, "not_found"),
        (#"{"ticket_type_id":"1","contacts":[{"email":"k@example.com"}]}"#, 400, "parameter_invalid"),
        (#"{"ticket_type_id":"1","contacts":[{"id":"000000000000000000000000"}],"ticket_attributes":{"_default_title_":"x"}}"#, 404, "not_found"),
        (#"{"ticket_type_id":"1","contacts":[{"external_id":"nobody"}],"ticket_attributes":{"_default_title_":"x"}}"#, 404, "not_found"),
        (#"{"ticket_type_id":"1","contacts":[{"phone":"1"}],"ticket_attributes":{"_default_title_":"x"}}"#, 400, "parameter_invalid"),
    ])
    func invalid(body: String, status: Int, code: String) async throws {
        try await RestHarness.with { api in
            _ = try await api.contact(#"{"email":"k@example.com"}"#)
            let response = try await api.call(.post, "/tickets", body)
            #expect(response.status == status, "\(body) → \(response.json)")
            #expect(errorCode(response.json) == code)
        }
    }

    @Test("a ticket for an email no contact has creates that contact, as the description says")
    func emailCreatesContact() async throws {
        try await RestHarness.with { api in
            let ticket = try await api.call(.post, "/tickets", #"{"ticket_type_id":"1","contacts":[{"email":"new@example.com"}],"ticket_attributes":{"_default_title_":"x"}}"#)
            #expect(ticket.status == 200, "\(ticket.json)")
            let found = try await api.call(.post, "/contacts/search", #"{"query":{"field":"email","operator":"=","value":"new@example.com"}}"#)
            let contact = try #require(found.json["data"]?.array?.first)
            #expect(ticket.json["contacts"]?["contacts"]?.array?.first?["id"] == contact["id"])
        }
    }

    @Test("an unknown ticket state is ticket_state_id_invalid; another workspace's ticket is not found")
    func stateAndIsolation() async throws {
        try await RestHarness.with { api in
            _ = try await api.contact(#"{"email":"k@example.com"}"#)
            let id = try #require(try await api.call(.post, "/tickets", #"{"ticket_type_id":"1","contacts":[{"email":"k@example.com"}],"ticket_attributes":{"_default_title_":"x"}}"#).json["id"]?.string)
            let bad = try await api.call(.put, "/tickets/\(id)", #"{"ticket_state_id":"77"}"#)
            #expect(bad.status == 400)
            #expect(errorCode(bad.json) == "ticket_state_id_invalid")
            #expect(try await api.call(.get, "/tickets/\(id)", token: api.globex).status == 404)
            #expect(errorCode(try await api.call(.get, "/tickets/\(id)", token: api.globex).json) == "ticket_not_found")
        }
    }
}
