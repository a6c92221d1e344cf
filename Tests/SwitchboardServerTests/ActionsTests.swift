import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Hummingbird
import HummingbirdTesting
import IntercomSandbox
import Providers
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import SQLKit
import Testing

extension Harness {
    /// A pre-authorized, enabled integration connected to Acme (as Ada); returns its id.
    func enabledIntegration(_ client: any TestClientProtocol) async throws -> String {
        let id = try await createIntegration(client)
        #expect(try await preauthorize(client, integrationID: id).status == .ok)
        #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", self).status == .ok)
        return id
    }

    func run(_ client: any TestClientProtocol, _ integration: String, _ action: String, _ input: String) async throws -> TestResponse {
        try await client.call(.post, "/v1/integrations/\(integration)/actions/\(action)", self, json: "{\"input\":\(input)}")
    }
}

@Suite("Actions")
struct ActionsTests {
    @Test("the catalog lists every action with its input schema and the prompts for required inputs")
    func catalog() async throws {
        try await Harness.with { harness, client in
            let listed = try object(try await client.call(.get, "/v1/actions?limit=300", harness))
            let actions = try #require(listed["data"] as? [[String: Any]])
            #expect(actions.count == ActionCatalog.intercom.actions.count && listed["next"] == nil, "every action in one page of 300")
            #expect(actions.allSatisfy { $0["output"] == nil }, "the list leaves the output schemas to GET /v1/actions/{name}")
            let page = try object(try await client.call(.get, "/v1/actions", harness))
            #expect((page["data"] as? [Any])?.count == 100 && page["next"] as? String == ActionCatalog.intercom.actions[99].name)
            let next = try object(try await client.call(.get, "/v1/actions?starting_after=\(ActionCatalog.intercom.actions[99].name)&limit=300", harness))
            #expect((next["data"] as? [[String: Any]])?.first?["name"] as? String == ActionCatalog.intercom.actions[100].name)
            let articles = try object(try await client.call(.get, "/v1/actions?group=articles&limit=300", harness))
            let articleActions = try #require(articles["data"] as? [[String: Any]])
            #expect(!articleActions.isEmpty && articleActions.allSatisfy { $0["group"] as? String == "Articles" })
            let macros = try object(try await client.call(.get, "/v1/actions?q=macro", harness))
            #expect((macros["data"] as? [[String: Any]])?.compactMap { $0["name"] as? String }.sorted() == ["intercom.get_macro", "intercom.list_macros"])
            let shown = try object(try await client.call(.get, "/v1/actions/intercom.list_macros", harness))
            #expect(shown["curated"] as? Bool == false && shown["output"] != nil && shown["versions"] as? [String] == ["2.16"])
            let operation = try #require(shown["operation"] as? [String: Any])
            #expect(operation["method"] as? String == "GET" && operation["path"] as? String == "/macros" && operation["operationId"] as? String == "listMacros")
            #expect(operation["docsURL"] as? String == "https://developers.intercom.com/docs/references/2.16/rest-api/api.intercom.io/macros/listmacros")
            let curated = try object(try await client.call(.get, "/v1/actions/intercom.get_contact", harness))
            #expect(curated["curated"] as? Bool == true && curated["group"] as? String == "Contacts")
            #expect(try await client.call(.get, "/v1/actions?starting_after=intercom.nope", harness).status == .unprocessableContent)
            for action in ActionCatalog.intercom.actions {
                let required = action.input["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
                for name in required {
                    #expect(action.prompts[name] != nil, "\(action.name) has no prompt for \(name)")
                }
            }
            #expect(try await client.call(.get, "/v1/actions/intercom.create_ticket", harness).status == .ok)
            try expectProblem(try await client.call(.get, "/v1/actions/intercom.nope", harness), 404, code: "action_not_found")
        }
    }

    @Test("every curated action runs against the sandbox and answers a result and a message")
    func walkTheCatalog() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            var ran: Set<String> = []
            func run(_ action: String, _ input: String) async throws -> [String: Any] {
                let response = try await harness.run(client, id, action, input)
                #expect(response.status == .ok, "\(action): \(text(response))")
                ran.insert(action)
                let body = try object(response)
                #expect((body["message"] as? String)?.isEmpty == false, "\(action) has no message")
                // The output matches the schema the catalog publishes for it.
                let output = JSONValue.parse(Data(text(response).utf8))?["result"] ?? .null
                let schema = try #require(ActionCatalog.intercom.action(named: action)?.output.schema)
                let violations = InputSchema.violations(of: output, against: schema, at: "output")
                #expect(violations.isEmpty, "\(action): \(violations.map { "\($0.field) \($0.detail)" })")
                // The message, rendered from only the members it reads, is the one the whole result renders.
                #expect(body["message"] as? String == ActionCatalog.intercom.message(for: action, output: output), "\(action)")
                return body
            }
            let me = try await run("intercom.who_am_i", "{}")
            #expect(me["message"] as? String == "Connected as Ada Admin <ada@acme.test> in Acme Support.")
            let contact = try #require((try await run("intercom.create_contact", #"{"email":"walk@example.com","name":"Walker","external_id":"w-1"}"#)["result"] as? [String: Any])?["id"] as? String)
            #expect(try await run("intercom.get_contact", "{\"contact_id\":\"\(contact)\"}")["message"] as? String == "Walker <walk@example.com>, user.")
            let found = try await run("intercom.find_contact_by_email", #"{"email":"walk@example.com"}"#)
            #expect((found["result"] as? [[String: Any]])?.first?["id"] as? String == contact)
            _ = try await run("intercom.find_contact_by_external_id", #"{"external_id":"w-1"}"#)
            _ = try await run("intercom.add_note", "{\"contact_id\":\"\(contact)\",\"body\":\"Called back\"}")
            let types = try await run("intercom.list_ticket_types", "{}")
            #expect((types["message"] as? String)?.contains("1: Bug report (Customer)") == true)
            let ticket = try await run("intercom.create_ticket", #"{"ticket_type_id":"1","email":"walk@example.com","title":"Cannot log in"}"#)
            #expect(ticket["message"] as? String == "Ticket #1 is open: Cannot log in.")
            let ticketID = try #require((ticket["result"] as? [String: Any])?["id"] as? String)
            #expect(try await run("intercom.get_ticket", "{\"ticket_id\":\"\(ticketID)\"}")["message"] as? String == "Ticket #1 (Cannot log in) is Submitted.")
            let listed = try await run("intercom.search_tickets", "{\"contact_id\":\"\(contact)\",\"state\":\"submitted\",\"limit\":5}")
            #expect((listed["result"] as? [Any])?.count == 1)
            _ = try await run("intercom.search_tickets", "{}")
            let started = try await run("intercom.start_conversation", "{\"contact_id\":\"\(contact)\",\"body\":\"Hello?\"}")
            let conversation = try #require((started["result"] as? [String: Any])?["conversation_id"] as? String)
            _ = try await run("intercom.reply_as_admin", "{\"conversation_id\":\"\(conversation)\",\"body\":\"Hi! How can I help?\"}")
            let closed = try await run("intercom.close_conversation", "{\"conversation_id\":\"\(conversation)\"}")
            #expect(closed["message"] as? String == "Conversation \(conversation) is closed.")

            // Contacts.
            #expect(try await run("intercom.update_contact", "{\"contact_id\":\"\(contact)\",\"phone\":\"+353 1 555\"}")["message"] as? String == "Contact \(contact) updated.")
            let search = try await run("intercom.search_contacts", #"{"name_contains":"walk","role":"user","limit":10}"#)
            #expect((search["result"] as? [[String: Any]])?.count == 1)
            #expect(((try await run("intercom.list_contacts", #"{"limit":10}"#))["result"] as? [Any])?.count == 1)
            #expect(try await run("intercom.list_notes", "{\"contact_id\":\"\(contact)\"}")["message"] as? String == "- <p>Called back</p>")
            let tag = try #require((try await run("intercom.create_tag", #"{"name":"VIP"}"#)["result"] as? [String: Any])?["id"] as? String)
            #expect(try await run("intercom.list_tags", "{}")["message"] as? String == "\(tag): VIP")
            #expect(try await run("intercom.tag_contact", "{\"contact_id\":\"\(contact)\",\"tag_id\":\"\(tag)\"}")["message"] as? String == "Tagged VIP.")
            _ = try await run("intercom.untag_contact", "{\"contact_id\":\"\(contact)\",\"tag_id\":\"\(tag)\"}")
            let lead = try #require((try await run("intercom.create_contact", #"{"role":"lead","name":"Lead"}"#)["result"] as? [String: Any])?["id"] as? String)
            #expect(try await run("intercom.merge_contacts", "{\"lead_id\":\"\(lead)\",\"user_id\":\"\(contact)\"}")["message"] as? String == "Merged into \(contact).")
            let spare = try #require((try await run("intercom.create_contact", #"{"email":"spare@example.com"}"#)["result"] as? [String: Any])?["id"] as? String)
            _ = try await run("intercom.archive_contact", "{\"contact_id\":\"\(spare)\"}")
            #expect(try await run("intercom.delete_contact", "{\"contact_id\":\"\(spare)\"}")["message"] as? String == "Contact \(spare) deleted.")

            // Conversations.
            #expect(try await run("intercom.reopen_conversation", "{\"conversation_id\":\"\(conversation)\"}")["message"] as? String == "Conversation \(conversation) is open.")
            _ = try await run("intercom.reply_as_contact", "{\"conversation_id\":\"\(conversation)\",\"contact_id\":\"\(contact)\",\"body\":\"Still there?\"}")
            _ = try await run("intercom.add_conversation_note", "{\"conversation_id\":\"\(conversation)\",\"body\":\"VIP customer\"}")
            #expect(try await run("intercom.assign_conversation", "{\"conversation_id\":\"\(conversation)\",\"assignee_id\":\"991267001\"}")["message"] as? String
                    == "Conversation \(conversation) assigned to 991267001.")
            _ = try await run("intercom.tag_conversation", "{\"conversation_id\":\"\(conversation)\",\"tag_id\":\"\(tag)\"}")
            let later = Int(Date().timeIntervalSince1970) + 3600
            _ = try await run("intercom.snooze_conversation", "{\"conversation_id\":\"\(conversation)\",\"snoozed_until\":\(later)}")
            let got = try await run("intercom.get_conversation", "{\"conversation_id\":\"\(conversation)\"}")
            #expect(got["message"] as? String == "Conversation \(conversation) is snoozed.")
            #expect(((try await run("intercom.list_conversations", "{}"))["result"] as? [Any])?.count == 1)
            #expect(((try await run("intercom.search_conversations", "{\"state\":\"snoozed\",\"contact_id\":\"\(contact)\"}"))["result"] as? [Any])?.count == 1)

            // Tickets, companies, admins, events.
            #expect(try await run("intercom.update_ticket", "{\"ticket_id\":\"\(ticketID)\",\"ticket_state_id\":\"2\"}")["message"] as? String == "Ticket #1 is In progress.")
            _ = try await run("intercom.reply_to_ticket", "{\"ticket_id\":\"\(ticketID)\",\"body\":\"Working on it\"}")
            let company = try #require((try await run("intercom.create_or_update_company", #"{"company_id":"c-1","name":"Acme Rockets","size":12}"#)["result"] as? [String: Any])?["id"] as? String)
            _ = try await run("intercom.attach_contact_to_company", "{\"contact_id\":\"\(contact)\",\"company_id\":\"\(company)\"}")
            #expect(try await run("intercom.get_company", "{\"id\":\"\(company)\"}")["message"] as? String == "Acme Rockets: 1 users.")
            #expect(try await run("intercom.list_companies", "{}")["message"] as? String == "Acme Rockets (id \(company))")
            #expect((try await run("intercom.list_admins", "{}")["message"] as? String)?.contains("991267001: Ada Admin <ada@acme.test>") == true)
            let generic = try await run("intercom.api_request", #"{"method":"POST","path":"/tags","body":{"name":"From a raw call"}}"#)
            #expect((generic["result"] as? [String: Any])?["name"] as? String == "From a raw call")
            #expect(try await run("intercom.submit_event", "{\"user_id\":\"w-1\",\"event_name\":\"ordered\",\"created_at\":\(Int(Date().timeIntervalSince1970))}")["message"] as? String
                    == "Event recorded.")
            let curated = Set(ActionCatalog.intercom.actions.filter(\.curated).map(\.name))
            #expect(ran == curated, "a curated action was added without a run here: \(curated.subtracting(ran))")
        }
    }

    @Test("input is checked against the schema before any call; every violation is named")
    func validation() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let before = await harness.sandbox.state.issuedTokenCount()
            let response = try await harness.run(client, id, "intercom.create_ticket", #"{"email":"nope","title":"","extra":1,"ticket_type_id":7}"#)
            let body = try expectProblem(response, 422, code: "validation_failed")
            let fields = (body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
            #expect(Set(fields) == ["input.email", "input.title", "input.extra", "input.ticket_type_id"])
            try expectProblem(try await harness.run(client, id, "intercom.search_tickets", #"{"state":"done","limit":500}"#), 422, code: "validation_failed")
            try expectProblem(try await harness.run(client, id, "intercom.who_am_i", "[]"), 422, code: "validation_failed", field: "input")
            #expect(await harness.sandbox.state.issuedTokenCount() == before)
        }
    }

    @Test("an input that fills a path segment cannot be '.' or '..' (which would reach another endpoint), nor empty", arguments: [".", "..", ""])
    func dotSegments(value: String) async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let body = try expectProblem(try await harness.run(client, id, "intercom.get_contact", "{\"contact_id\":\"\(value)\"}"), 422, code: "validation_failed")
            let fields = (body["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
            #expect(fields == ["input.contact_id"], "\(body)")
            let notes = try await harness.run(client, id, "intercom.add_note", #"{"contact_id":"..","body":"hi"}"#)
            #expect(Int(notes.status.code) == 422 && text(notes).contains("input.contact_id"))
            // A dot inside a value is fine: it is escaped into one segment.
            #expect(try await harness.run(client, id, "intercom.get_contact", #"{"contact_id":"a..b"}"#).status == .notFound)
        }
    }

    @Test("Intercom's answers become problems: not found, refused input, revoked token")
    func providerErrors() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let missing = try expectProblem(try await harness.run(client, id, "intercom.get_contact", #"{"contact_id":"000000000000000000000000"}"#), 404, code: "not_found")
            #expect((missing["detail"] as? String)?.contains("contact") == true)
            // Input the description allows and Intercom refuses: a second contact with the same email.
            #expect(try await harness.run(client, id, "intercom.create_contact", #"{"email":"twice@example.com"}"#).status == .ok)
            try expectProblem(try await harness.run(client, id, "intercom.create_contact", #"{"email":"twice@example.com"}"#), 422, code: "provider_rejected", field: "email")
            let token = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "")?.tokens.accessToken)
            #expect(await harness.sandbox.state.revoke(token: token))
            try expectProblem(try await harness.run(client, id, "intercom.who_am_i", "{}"), 409, code: "reauthorization_required")
            #expect(try object(try await client.call(.get, "/v1/integrations/\(id)", harness))["status"] as? String == "error")
        }
    }

    @Test("a disabled or never-authorized integration refuses to act")
    func notEnabled() async throws {
        try await Harness.with { harness, client in
            let configured = try await harness.createIntegration(client)
            try expectProblem(try await harness.run(client, configured, "intercom.who_am_i", "{}"), 409, code: "integration_not_enabled")
            let enabled = try await harness.enabledIntegration(client)
            _ = try await client.call(.post, "/v1/integrations/\(enabled)/disable", harness)
            try expectProblem(try await harness.run(client, enabled, "intercom.who_am_i", "{}"), 409, code: "integration_not_enabled")
        }
    }
}

@Suite("Actions under Intercom faults")
struct ActionFaultTests {
    @Test("a 429 within the bound is waited out until the window resets, then the call succeeds")
    func rateLimitedThenSuccess() async throws {
        // Intercom answers 429 once, with a reset 4 s ahead on Switchboard's clock; Switchboard waits it out on that clock.
        let transport = RateLimitOnceTransport()
        try await Harness.with(transport: transport) { harness, client in
            let id = try await harness.enabledIntegration(client)
            transport.arm(clock: harness.clock, resetIn: 4)
            let start = harness.clock.now()
            let response = try await harness.run(client, id, "intercom.who_am_i", "{}")
            #expect(response.status == .ok, "\(text(response))")
            #expect(transport.refused == 1, "Intercom refused once")
            #expect(harness.clock.now().timeIntervalSince(start) < 12, "waited no longer than the 10-second window")
            #expect(harness.clock.now().timeIntervalSince(start) >= 3, "the 429 was waited out until the reset (whole seconds, up to 4 s ahead)")
            let runs = try object(try await client.call(.get, "/v1/runs?limit=1", harness))
            #expect((runs["data"] as? [[String: Any]])?.first?["outcome"] as? String == "ok")
        }
    }

    @Test("a 500 on a read is retried; a 500 on a write is reported and never repeated")
    func serverErrors() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let contact = try #require((try object(try await harness.run(client, id, "intercom.create_contact", #"{"email":"f@example.com"}"#))["result"] as? [String: Any])?["id"] as? String)
            // Every second call fails: 1 ok, 2 fails, 3 ok, …
            try await harness.sandbox.setFaults(#"{"serverErrorRate":0.5}"#)
            #expect(try await harness.run(client, id, "intercom.who_am_i", "{}").status == .ok, "call 1")
            #expect(try await harness.run(client, id, "intercom.who_am_i", "{}").status == .ok, "call 2 failed and call 3 answered")
            #expect(try await harness.run(client, id, "intercom.get_contact", "{\"contact_id\":\"\(contact)\"}").status == .ok, "call 4 fails, 5 answers")
            // Call 6 fails: a retried write would land on call 7 and succeed, creating a note.
            let write = try await harness.run(client, id, "intercom.add_note", "{\"contact_id\":\"\(contact)\",\"body\":\"once\"}")
            try expectProblem(write, 502, code: "provider_error")
            try await harness.sandbox.setFaults("{}")
            let shown = try object(try await harness.run(client, id, "intercom.get_contact", "{\"contact_id\":\"\(contact)\"}"))
            #expect(((shown["result"] as? [String: Any])?["notes"] as? [String: Any])?["total_count"] as? Int == 0, "the write was not repeated")
        }
    }
}

@Suite("Audit log")
struct RunsTests {
    @Test("every run is recorded with its outcome, newest first, paged; never its input or output; per workspace")
    func auditLog() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            for (action, input) in [("intercom.who_am_i", "{}"),
                                    ("intercom.create_contact", #"{"email":"secret-input@example.com","name":"Private Person"}"#),
                                    ("intercom.get_contact", #"{"contact_id":"000000000000000000000000"}"#),
                                    ("intercom.create_ticket", #"{"email":"bad"}"#)] {
                harness.clock.advance(by: 1)
                _ = try await harness.run(client, id, action, input)
            }
            let page = try object(try await client.call(.get, "/v1/runs?limit=3", harness))
            let runs = try #require(page["data"] as? [[String: Any]])
            #expect(runs.map { $0["outcome"] as? String } == ["validation_failed", "not_found", "ok"])
            #expect(runs.map { $0["action"] as? String } == ["intercom.create_ticket", "intercom.get_contact", "intercom.create_contact"])
            #expect(runs.last?["status"] as? Int == 200)
            let next = try #require(page["next"] as? String)
            let rest = try object(try await client.call(.get, "/v1/runs?limit=3&starting_after=\(next)", harness))
            #expect((rest["data"] as? [[String: Any]])?.map { $0["action"] as? String } == ["intercom.who_am_i"])
            #expect(rest["next"] == nil)

            let stored = try await harness.store.database.read { db in
                try await db.select().columns("*").from("runs").all().map { row in
                    try ["action", "outcome", "end_user_id", "provider_request_id"].map { try row.decode(column: $0, as: String?.self) ?? "" }.joined(separator: " ")
                }
            }
            #expect(stored.count == 4)
            #expect(!stored.joined().contains("secret-input") && !stored.joined().contains("Private Person"))
            let other = try await harness.otherWorkspaceKey()
            #expect(try object(try await client.call(.get, "/v1/runs", harness, key: other))["count"] as? Int == 0)
            try expectProblem(try await client.call(.get, "/v1/runs?limit=0", harness), 422, code: "validation_failed", field: "limit")
        }
    }
}

@Suite("Generic Intercom calls")
struct APIRequestTests {
    @Test("any path of the integration's Intercom API works; anything that could reach another host is refused", arguments: [
        "https://evil.example/contacts", "//evil.example/contacts", "/contacts/../../admin", "/contacts@evil.example", "contacts",
        "/a b", "/contacts\\..\\x", "/x#frag", "/ok//double",
    ])
    func paths(path: String) async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let ok = try await harness.run(client, id, "intercom.api_request", #"{"method":"GET","path":"/contacts?per_page=2"}"#)
            #expect(ok.status == .ok)
            #expect((try object(ok)["result"] as? [String: Any])?["type"] as? String == "list")
            let input = try String(decoding: JSONSerialization.data(withJSONObject: ["method": "GET", "path": path]), as: UTF8.self)
            try expectProblem(try await harness.run(client, id, "intercom.api_request", input), 422, code: "validation_failed", field: "input.path")
        }
    }
}

@Suite("List actions")
struct ListActionTests {
    @Test("limit follows starting_after cursors past Intercom's 150 a page, without repeats, and stops at the limit")
    func followsCursors() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            var created: [String] = []
            for index in 0..<170 {
                let response = try object(try await harness.run(client, id, "intercom.create_contact", "{\"email\":\"bulk\(index)@example.com\"}"))
                created.append(try #require((response["result"] as? [String: Any])?["id"] as? String))
            }
            let listed = try object(try await harness.run(client, id, "intercom.list_contacts", #"{"limit":160}"#))
            let ids = (listed["result"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
            #expect(ids.count == 160)
            #expect(ids == Array(created.prefix(160)), "in order, each once")
            let searched = try object(try await harness.run(client, id, "intercom.search_contacts", #"{"email_domain":"example.com","limit":1000}"#))
            #expect((searched["result"] as? [Any])?.count == 170, "all of them, over two pages")
            let few = try object(try await harness.run(client, id, "intercom.list_contacts", #"{"limit":3}"#))
            #expect((few["result"] as? [Any])?.count == 3)
        }
    }
}

@Suite("Idempotency keys")
struct IdempotencyTests {
    func run(_ harness: Harness, _ client: any TestClientProtocol, _ integration: String, _ action: String, _ input: String, key: String) async throws -> TestResponse {
        try await client.call(.post, "/v1/integrations/\(integration)/actions/\(action)", harness, json: "{\"input\":\(input),\"idempotencyKey\":\"\(key)\"}")
    }

    @Test("a write with the same key runs once and answers the same; another input with that key is refused")
    func once() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            _ = try await harness.run(client, id, "intercom.create_contact", #"{"email":"idem@example.com"}"#)
            let input = #"{"ticket_type_id":"1","email":"idem@example.com","title":"Once only"}"#
            let first = try await run(harness, client, id, "intercom.create_ticket", input, key: "k-1")
            let second = try await run(harness, client, id, "intercom.create_ticket", input, key: "k-1")
            #expect(first.status == .ok && second.status == .ok)
            #expect(text(first) == text(second))
            let tickets = try object(try await harness.run(client, id, "intercom.search_tickets", "{}"))
            #expect((tickets["result"] as? [Any])?.count == 1, "one ticket, not two")
            try expectProblem(try await run(harness, client, id, "intercom.create_ticket", #"{"ticket_type_id":"1","email":"idem@example.com","title":"Other"}"#, key: "k-1"),
                              409, code: "idempotency_key_reused", field: "idempotencyKey")
            #expect(try await run(harness, client, id, "intercom.create_ticket", input, key: "k-2").status == .ok, "a new key is a new write")
        }
    }

    @Test("a failed write's outcome stands for its key; a failure before Intercom frees the key")
    func failures() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let contact = try #require((try object(try await harness.run(client, id, "intercom.create_contact", #"{"email":"f2@example.com"}"#))["result"] as? [String: Any])?["id"] as? String)
            try await harness.sandbox.setFaults(#"{"serverErrorRate":1}"#)
            let note = "{\"contact_id\":\"\(contact)\",\"body\":\"hello\"}"
            try expectProblem(try await run(harness, client, id, "intercom.add_note", note, key: "n-1"), 502, code: "provider_error")
            try await harness.sandbox.setFaults("{}")
            try expectProblem(try await run(harness, client, id, "intercom.add_note", note, key: "n-1"), 502, code: "provider_error")
            let notes = try object(try await harness.run(client, id, "intercom.list_notes", "{\"contact_id\":\"\(contact)\"}"))
            #expect((notes["result"] as? [Any])?.count == 0, "the same key never wrote")

            _ = try await client.call(.post, "/v1/integrations/\(id)/disable", harness)
            try expectProblem(try await run(harness, client, id, "intercom.add_note", note, key: "n-2"), 409, code: "integration_not_enabled")
            _ = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
            #expect(try await run(harness, client, id, "intercom.add_note", note, key: "n-2").status == .ok, "the key was freed")
        }
    }

    @Test("a refresh that cannot reach the token endpoint answers provider_unavailable before Intercom is called: the key is freed, and the retry writes once")
    func unavailableRefreshFreesTheKey() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let contact = try #require((try object(try await harness.run(client, id, "intercom.create_contact", #"{"email":"ru@example.com"}"#))["result"] as? [String: Any])?["id"] as? String)
            // The shared connection's token is due for a refresh, and the token endpoint is down.
            let connectionID = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: Connection.sharedUser)?.id)
            func expires(in seconds: TimeInterval) async throws {
                let store = harness.store.connections, now = harness.clock.now()
                var grant = try #require(try await store.connection(id: connectionID)).tokens
                grant.refreshToken = "refresh-x"
                grant.expiresAt = now.addingTimeInterval(seconds)
                #expect(try await store.acquireRefreshLease(connectionID: connectionID, owner: "test", now: now, duration: 30))
                #expect(try await store.storeRefreshedTokens(connectionID: connectionID, owner: "test", grant: grant, keepRefreshToken: nil, now: now))
                try await store.releaseRefreshLease(connectionID: connectionID, owner: "test")
            }
            try await expires(in: -10)
            try await harness.sandbox.setFaults(#"{"tokenEndpointStatus":503}"#)
            let note = "{\"contact_id\":\"\(contact)\",\"body\":\"after refresh\"}"
            try expectProblem(try await run(harness, client, id, "intercom.add_note", note, key: "u-1"), 503, code: "provider_unavailable")
            try await harness.sandbox.setFaults("{}")
            try await expires(in: 3600)
            let retried = try await run(harness, client, id, "intercom.add_note", note, key: "u-1")
            #expect(retried.status == .ok, "the key was freed: \(text(retried))")
            let notes = try object(try await harness.run(client, id, "intercom.list_notes", "{\"contact_id\":\"\(contact)\"}"))
            #expect((notes["result"] as? [Any])?.count == 1)
        }
    }

    @Test("a key claimed by an instance that died answers idempotency_in_progress until its lease lapses, then runs once")
    func deadClaimLapses() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let contact = try #require((try object(try await harness.run(client, id, "intercom.create_contact", #"{"email":"dead@example.com"}"#))["result"] as? [String: Any])?["id"] as? String)
            let note = "{\"contact_id\":\"\(contact)\",\"body\":\"orphan\"}"
            // A run with the key, whose row then becomes what a run that never finished leaves: claimed, no outcome.
            let first = try await run(harness, client, id, "intercom.add_note", note, key: "d-1")
            #expect(first.status == .ok)
            try await harness.store.database.write { db in
                try await db.update("idempotency_keys").set("status", to: "processing").set("outcome_sealed", to: SQLLiteral.null)
                    .set("lease_until", to: harness.clock.now().addingTimeInterval(Store.idempotencyLease).unixSeconds)
                    .where("idempotency_key", .equal, "d-1").run()
            }
            try expectProblem(try await run(harness, client, id, "intercom.add_note", note, key: "d-1"), 409, code: "idempotency_in_progress", field: "idempotencyKey")
            harness.clock.advance(by: Store.idempotencyLease - 5)
            try expectProblem(try await run(harness, client, id, "intercom.add_note", note, key: "d-1"), 409, code: "idempotency_in_progress", field: "idempotencyKey")
            harness.clock.advance(by: 10)
            #expect(try await run(harness, client, id, "intercom.add_note", note, key: "d-1").status == .ok, "the lapsed claim is taken over")
            #expect(try await run(harness, client, id, "intercom.add_note", note, key: "d-1").status == .ok, "and its outcome stands")
            let notes = try object(try await harness.run(client, id, "intercom.list_notes", "{\"contact_id\":\"\(contact)\"}"))
            #expect((notes["result"] as? [Any])?.count == 2, "the first run, and the one run after the lease lapsed")
        }
    }

    @Test("a write answered rate_limited was not run: its key is freed, and the retry Retry-After invites runs it once")
    func rateLimitedFreesTheKey() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let contact = try #require((try object(try await harness.run(client, id, "intercom.create_contact", #"{"email":"rl@example.com"}"#))["result"] as? [String: Any])?["id"] as? String)
            // The sandbox's window is on the test's clock: the first 429 is waited out (its reset is at most 10 s away)
            // and the second, on the one retry, answers rate_limited with the next window's reset, 10 s away.
            try await harness.sandbox.setFaults(#"{"rateLimitNext":2}"#)
            let note = "{\"contact_id\":\"\(contact)\",\"body\":\"once\"}"
            let limited = try await run(harness, client, id, "intercom.add_note", note, key: "r-1")
            try expectProblem(limited, 429, code: "rate_limited")
            #expect(limited.headers[.retryAfter] == "10")
            let retried = try await run(harness, client, id, "intercom.add_note", note, key: "r-1")
            #expect(retried.status == .ok, "the retry ran: \(text(retried))")
            #expect(try await run(harness, client, id, "intercom.add_note", note, key: "r-1").status == .ok)
            let notes = try object(try await harness.run(client, id, "intercom.list_notes", "{\"contact_id\":\"\(contact)\"}"))
            #expect((notes["result"] as? [Any])?.count == 1, "one note: the 429 wrote nothing, the retry wrote once")
        }
    }
}

@Suite("Action output schemas")
struct OutputSchemaContractTests {
    /// The catalog's shared output schemas and the components of Intercom's OpenAPI description they describe.
    static let components = [
        "contact": "contact", "contact_deleted": "contact_deleted", "contact_archived": "contact_archived", "conversation": "conversation",
        "message": "message", "ticket": "ticket", "ticket_reply": "ticket_reply", "ticket_type": "ticket_type", "company": "company",
        "tag": "tag", "admin": "admin", "admin_with_app": "admin_with_app", "note": "note",
    ]

    @Test("every property an output schema declares exists in Intercom's description with the same type, null allowed exactly where Intercom allows it; every action but two has a real schema")
    func outputSchemasMatchIntercom() throws {
        let schemas = ActionCatalog.intercom.schemas
        #expect(Set(schemas.keys) == Set(Self.components.keys), "each shared schema is mapped to Intercom's component")
        for (name, schema) in schemas.sorted(by: { $0.key < $1.key }) {
            let component = try #require(Self.components[name])
            let theirs = try #require(OpenAPIContract.intercom.properties(ofComponent: component), "no component \(component)")
            for (property, ours) in schema["properties"]?.objectValue ?? [:] {
                guard let their = theirs[property] else {
                    Issue.record("\(name).\(property) is not a property of Intercom's \(component)")
                    continue
                }
                // A property Intercom marks nullable is `[type, "null"]` in ours (MCP clients validate results against it).
                let nullable = their["nullable"] as? Bool == true
                let expected: JSONValue? = (their["type"] as? String).map { nullable ? .array([.string($0), .string("null")]) : .string($0) }
                #expect(ours["type"] == expected, "\(name).\(property): ours \(ours["type"].map { "\($0)" } ?? "-"), Intercom's \(their["type"] as? String ?? "-")\(nullable ? " (nullable)" : "")")
                if let values = ours["enum"]?.arrayValue?.compactMap(\.stringValue), let allowed = their["enum"] as? [String] {
                    #expect(Set(values).isSubset(of: Set(allowed)), "\(name).\(property): \(values) against \(allowed)")
                }
            }
        }
        let bare = ActionCatalog.intercom.actions.filter { $0.curated && $0.output.schema?["type"] == nil }.map(\.name)
        #expect(Set(bare) == ["intercom.submit_event", "intercom.api_request"], "\(bare)")
    }
}

/// The real transport; once armed, the next API call is answered 429 with `X-RateLimit-Reset` a few seconds ahead on
/// the test's clock, as Intercom answers when a window is used up.
final class RateLimitOnceTransport: HTTPTransport, @unchecked Sendable {
    private let inner = AHCTransport()
    private let lock = NSLock()
    private var armed: (clock: ManualWallClock, resetIn: TimeInterval)?
    private(set) var refused = 0

    func arm(clock: ManualWallClock, resetIn: TimeInterval) { lock.withLock { armed = (clock, resetIn) } }

    func send(_ request: OutboundRequest) async throws -> OutboundResponse {
        let fire: (clock: ManualWallClock, resetIn: TimeInterval)? = lock.withLock {
            defer { armed = nil }
            if armed != nil { refused += 1 }
            return armed
        }
        if let fire {
            let reset = Int(fire.clock.now().timeIntervalSince1970 + fire.resetIn)
            return OutboundResponse(status: 429, headers: [("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "\(reset)")],
                                    body: Data(#"{"type":"error.list","errors":[{"code":"rate_limit_exceeded","message":"slow down"}]}"#.utf8))
        }
        return try await inner.send(request)
    }
}
