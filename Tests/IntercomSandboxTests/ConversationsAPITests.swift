import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardTestSupport
import Testing
@testable import IntercomSandbox

extension RestHarness {
    /// A contact who starts a conversation; returns (contact id, conversation id).
    func conversation(_ text: String = "My order has not arrived", email: String = "buyer@example.com") async throws -> (String, String) {
        let contact = try await self.contact("{\"email\":\"\(email)\",\"external_id\":\"ext-\(email)\"}")
        let message = try await call(.post, "/conversations", "{\"from\":{\"type\":\"user\",\"id\":\"\(contact)\"},\"body\":\"\(text)\"}",
                                     contract: "/conversations")
        #expect(message.json["type"]?.string == "user_message")
        return (contact, try #require(message.json["conversation_id"]?.string))
    }
}

let ada = "991267001"

@Suite("Sandbox REST: conversations")
struct ConversationsAPITests {
    @Test("every conversation operation answers what the official description's schema allows")
    func contract() async throws {
        try await RestHarness.with { api in
            let (contact, id) = try await api.conversation()
            #expect(Int(id) != nil, "conversation ids are numeric strings")
            let shown = try await api.call(.get, "/conversations/\(id)", contract: "/conversations/{conversation_id}")
            #expect(shown.json["state"]?.string == "open")
            #expect(shown.json["contacts"]?["contacts"]?.array?.first?["id"]?.string == contact)
            #expect(shown.json["source"]?["body"]?.string == "<p>My order has not arrived</p>")
            #expect(shown.json["waiting_since"]?.int != nil)

            let replied = try await api.call(.post, "/conversations/\(id)/reply",
                                             "{\"message_type\":\"comment\",\"type\":\"admin\",\"admin_id\":\"\(ada)\",\"body\":\"Looking into it\"}",
                                             contract: "/conversations/{conversation_id}/reply")
            #expect(replied.json["waiting_since"] == .null, "an admin's reply ends the wait")
            try await api.call(.post, "/conversations/\(id)/reply",
                               "{\"message_type\":\"note\",\"type\":\"admin\",\"admin_id\":\"\(ada)\",\"body\":\"Internal: courier delay\"}",
                               contract: "/conversations/{conversation_id}/reply")
            try await api.call(.post, "/conversations/\(id)/reply",
                               "{\"message_type\":\"comment\",\"type\":\"user\",\"intercom_user_id\":\"\(contact)\",\"body\":\"Thanks!\"}",
                               contract: "/conversations/{conversation_id}/reply")
            let assigned = try await api.call(.post, "/conversations/\(id)/parts",
                                              "{\"message_type\":\"assignment\",\"type\":\"admin\",\"admin_id\":\"\(ada)\",\"assignee_id\":\"\(ada)\"}",
                                              contract: "/conversations/{conversation_id}/parts")
            #expect(assigned.json["admin_assignee_id"]?.int == Int(ada))
            let snoozeUntil = Int(api.time.now().timeIntervalSince1970) + 3600
            let snoozed = try await api.call(.post, "/conversations/\(id)/parts",
                                             "{\"message_type\":\"snoozed\",\"admin_id\":\"\(ada)\",\"snoozed_until\":\(snoozeUntil)}",
                                             contract: "/conversations/{conversation_id}/parts")
            #expect(snoozed.json["state"]?.string == "snoozed")
            #expect(snoozed.json["snoozed_until"]?.int == snoozeUntil)
            let closed = try await api.call(.post, "/conversations/\(id)/parts", "{\"message_type\":\"close\",\"type\":\"admin\",\"admin_id\":\"\(ada)\",\"body\":\"Resolved\"}",
                                            contract: "/conversations/{conversation_id}/parts")
            #expect(closed.json["state"]?.string == "closed")
            #expect(closed.json["open"] == .bool(false))
            let reopened = try await api.call(.post, "/conversations/\(id)/parts", "{\"message_type\":\"open\",\"admin_id\":\"\(ada)\"}",
                                              contract: "/conversations/{conversation_id}/parts")
            #expect(reopened.json["state"]?.string == "open")
            #expect(reopened.json["conversation_parts"]?["conversation_parts"]?.array?.map { $0["part_type"]?.string ?? "" }
                    == ["comment", "note", "comment", "assignment", "snoozed", "close", "open"])

            let tag = try #require(try await api.call(.post, "/tags", #"{"name":"shipping"}"#).json["id"]?.string)
            try await api.call(.post, "/conversations/\(id)/tags", "{\"id\":\"\(tag)\",\"admin_id\":\"\(ada)\"}", contract: "/conversations/{conversation_id}/tags")
            let updated = try await api.call(.put, "/conversations/\(id)", #"{"read":true,"title":"Late order","custom_attributes":{"issue":"delivery"}}"#,
                                             contract: "/conversations/{conversation_id}")
            #expect(updated.json["title"]?.string == "Late order")
            #expect(updated.json["tags"]?["tags"]?.array?.first?["name"]?.string == "shipping")
            try await api.call(.delete, "/conversations/\(id)/tags/\(tag)", "{\"admin_id\":\"\(ada)\"}", contract: "/conversations/{conversation_id}/tags/{tag_id}")
            try await api.call(.get, "/conversations", contract: "/conversations")
            try await api.call(.post, "/conversations/search", #"{"query":{"field":"state","operator":"=","value":"open"}}"#, contract: "/conversations/search")
        }
    }

    @Test("a customer's reply reopens a closed conversation and starts the wait")
    func customerReplyReopens() async throws {
        try await RestHarness.with { api in
            let (contact, id) = try await api.conversation()
            try await api.call(.post, "/conversations/\(id)/parts", "{\"message_type\":\"close\",\"admin_id\":\"\(ada)\"}")
            api.time.advance(60)
            let reply = try await api.call(.post, "/conversations/\(id)/reply", "{\"message_type\":\"comment\",\"type\":\"user\",\"intercom_user_id\":\"\(contact)\",\"body\":\"Still broken\"}")
            #expect(reply.json["state"]?.string == "open")
            #expect(reply.json["waiting_since"]?.int == Int(api.time.now().timeIntervalSince1970))
        }
    }

    @Test("search by state, contact, assignee and tag; lists newest first with cursors")
    func searchAndList() async throws {
        try await RestHarness.with { api in
            var ids: [String] = []
            var contacts: [String] = []
            for index in 0..<7 {
                let (contact, id) = try await api.conversation("Issue \(index)", email: "c\(index)@example.com")
                ids.append(id)
                contacts.append(contact)
                api.time.advance(1)
            }
            try await api.call(.post, "/conversations/\(ids[1])/parts", "{\"message_type\":\"close\",\"admin_id\":\"\(ada)\"}")
            try await api.call(.post, "/conversations/\(ids[2])/parts", "{\"message_type\":\"assignment\",\"admin_id\":\"\(ada)\",\"assignee_id\":\"\(ada)\"}")
            func found(_ query: String) async throws -> [String] {
                try await api.call(.post, "/conversations/search", "{\"query\":\(query)}").json["conversations"]?.array?.compactMap { $0["id"]?.string } ?? []
            }
            #expect(try await found(#"{"field":"state","operator":"=","value":"closed"}"#) == [ids[1]])
            #expect(try await found("{\"field\":\"contact_ids\",\"operator\":\"=\",\"value\":\"\(contacts[3])\"}") == [ids[3]])
            #expect(try await found("{\"field\":\"admin_assignee_id\",\"operator\":\"=\",\"value\":\(ada)}") == [ids[2]])
            #expect(try await found(#"{"field":"source.body","operator":"~","value":"issue 5"}"#) == [ids[5]])
            #expect(try await found(#"{"field":"open","operator":"=","value":true}"#).count == 6)

            var listed: [String] = []
            var cursor: String?
            repeat {
                let page = try await api.call(.get, "/conversations?per_page=3" + (cursor.map { "&starting_after=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" } ?? ""),
                                              contract: "/conversations")
                listed += page.json["conversations"]?.array?.compactMap { $0["id"]?.string } ?? []
                cursor = page.json["pages"]?["next"]?["starting_after"]?.string
            } while cursor != nil
            #expect(listed == Array(ids.reversed()))
        }
    }

    @Test("bad requests name their field; unknown conversations, admins and contacts are 404s", arguments: [
        ("/conversations", #"{"body":"hi"}"#, 400, "parameter_not_found"),
        ("/conversations", #"{"from":{"type":"robot","id":"x"},"body":"hi"}"#, 400, "parameter_invalid"),
        ("/conversations", #"{"from":{"type":"user","id":"000000000000000000000000"},"body":"hi"}"#, 404, "not_found"),
        ("/conversations/CONV/reply", #"{"message_type":"comment","type":"admin","admin_id":"1","body":"x"}"#, 404, "admin_not_found"),
        ("/conversations/CONV/reply", #"{"message_type":"comment","type":"admin","body":"x"}"#, 400, "parameter_not_found"),
        ("/conversations/CONV/reply", #"{"message_type":"shout","type":"admin","admin_id":"991267001","body":"x"}"#, 400, "parameter_invalid"),
        ("/conversations/CONV/parts", #"{"message_type":"snoozed","admin_id":"991267001"}"#, 400, "parameter_not_found"),
        ("/conversations/CONV/parts", #"{"message_type":"snoozed","admin_id":"991267001","snoozed_until":1}"#, 400, "parameter_invalid"),
        ("/conversations/CONV/parts", #"{"message_type":"assignment","admin_id":"991267001","assignee_id":"42"}"#, 404, "assignee_not_found"),
        ("/conversations/999999/parts", #"{"message_type":"close","admin_id":"991267001"}"#, 404, "not_found"),
    ])
    func errors(path: String, body: String, status: Int, code: String) async throws {
        try await RestHarness.with { api in
            let (_, id) = try await api.conversation()
            let response = try await api.call(.post, path.replacingOccurrences(of: "CONV", with: id), body)
            #expect(response.status == status, "\(path) \(body) → \(response.json)")
            #expect(errorCode(response.json) == code)
        }
    }

    @Test("conversations belong to their workspace")
    func isolation() async throws {
        try await RestHarness.with { api in
            let (_, id) = try await api.conversation()
            #expect(try await api.call(.get, "/conversations/\(id)", token: api.globex).status == 404)
            #expect(try await api.call(.get, "/conversations", token: api.globex).json["total_count"]?.int == 0)
            let globexAdmin = try await api.call(.post, "/conversations/\(id)/parts", #"{"message_type":"close","admin_id":"991267002"}"#)
            #expect(globexAdmin.status == 404, "another workspace's admin cannot act here")
        }
    }
}
