import Foundation
import HTTPTypes
import HummingbirdTesting
import SQLKit
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

@Suite("Agent tokens")
struct AgentTokenTests {
    @Test("made for an integration, an end user and a few tools: shown once, kept as a hash, listed without the token, revoked at once")
    func lifecycle() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let made = try await client.call(.post, "/v1/integrations/\(id)/agent-tokens", harness, json: """
                {"name":"Ada's desktop agent","userId":"user-a","tools":["intercom.get_contact","intercom.create_ticket"],"expiresIn":3600}
                """)
            #expect(made.status == .created, "\(text(made))")
            let body = try object(made)
            let secret = try #require(body["token"] as? String)
            let tokenID = try #require(body["id"] as? String)
            #expect(secret.hasPrefix("sbat_") && secret.count > 40)
            #expect(body["userId"] as? String == "user-a" && body["status"] as? String == "active")
            #expect(body["tools"] as? [String] == ["intercom.get_contact", "intercom.create_ticket"])
            #expect((body["prefix"] as? String).map(secret.hasPrefix) == true)

            // Only the hash is stored; the list never shows the token.
            let stored = try await harness.store.database.read { db in try await db.raw("SELECT * FROM agent_tokens").all() }
            for row in stored {
                for column in row.allColumns { #expect((try? row.decode(column: column, as: String.self)) != secret, "column \(column)") }
            }
            let listed = try object(try await client.call(.get, "/v1/integrations/\(id)/agent-tokens", harness))
            let items = try #require(listed["data"] as? [[String: Any]])
            #expect(items.count == 1 && items[0]["token"] == nil && items[0]["id"] as? String == tokenID)
            #expect(!text(try await client.call(.get, "/v1/integrations/\(id)/agent-tokens", harness)).contains(secret))

            let working = try await harness.store.agentTokens.workingAgentToken(secret, now: harness.clock.now())
            #expect(working?.id == tokenID && working?.endUserID == "user-a")
            #expect(try await harness.store.agentTokens.workingAgentToken(secret + "x", now: harness.clock.now()) == nil)
            #expect(try await harness.store.agentTokens.workingAgentToken(secret, now: harness.clock.now().addingTimeInterval(3601)) == nil,
                    "expired an hour on")

            let revoked = try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/\(tokenID)", harness)
            #expect(try object(revoked)["status"] as? String == "revoked")
            #expect(try await harness.store.agentTokens.workingAgentToken(secret, now: harness.clock.now()) == nil, "refused at once")
            try expectProblem(try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/atok_nope", harness), 404, code: "not_found")

            // Another workspace sees nothing of it.
            let other = try await harness.otherWorkspaceKey()
            try expectProblem(try await client.call(.get, "/v1/integrations/\(id)/agent-tokens", harness, key: other), 404, code: "not_found")

            let audit = try object(try await client.call(.get, "/v1/audit", harness))
            let actions = (audit["data"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
            #expect(actions.contains("agent_token.created") && actions.contains("agent_token.revoked"))
            #expect(!text(try await client.call(.get, "/v1/audit", harness)).contains(secret))
        }
    }

    @Test("the cap counts usable tokens only; a revoked or expired token can be deleted (purge=true), a working one cannot")
    func capAndPurge() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            func make(_ json: String = #"{"name":"agent"}"#) async throws -> String {
                let made = try await client.call(.post, "/v1/integrations/\(id)/agent-tokens", harness, json: json)
                #expect(made.status == .created, "\(text(made))")
                return try #require(try object(made)["id"] as? String)
            }
            let revoked = try await make()
            let expiring = try await make(#"{"name":"short","expiresIn":60}"#)
            let working = try await make()
            _ = try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/\(revoked)", harness)
            harness.clock.advance(by: 61)
            let workspace = harness.workspace.id
            #expect(try await harness.store.agentTokens.usableAgentTokenCount(integrationID: id, workspaceID: workspace, now: harness.clock.now()) == 1,
                    "the revoked and the expired token do not count")

            try expectProblem(try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/\(working)?purge=true", harness),
                              409, code: "agent_token_active", field: "purge")
            try expectProblem(try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/\(revoked)?purge=yes", harness),
                              422, code: "validation_failed", field: "purge")
            for gone in [revoked, expiring] {
                #expect(try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/\(gone)?purge=true", harness).status == .noContent)
                try expectProblem(try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/\(gone)?purge=true", harness), 404, code: "not_found")
            }
            let listed = try object(try await client.call(.get, "/v1/integrations/\(id)/agent-tokens", harness))
            #expect((listed["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [working])
            let audit = try object(try await client.call(.get, "/v1/audit", harness))
            #expect((audit["data"] as? [[String: Any]] ?? []).filter { $0["action"] as? String == "agent_token.deleted" }.count == 2)
        }
    }

    @Test("bad input names its field; a token's tools stay within the integration's allow-list")
    func badInput() async throws {
        try await Harness.with { harness, client in
            let perUser = try await harness.perUserIntegration(client)
            let shared = try await harness.createIntegration(client)
            func make(_ id: String, _ json: String) async throws -> TestResponse {
                try await client.call(.post, "/v1/integrations/\(id)/agent-tokens", harness, json: json)
            }
            try expectProblem(try await make(perUser, "{}"), 422, code: "validation_failed", field: "name")
            try expectProblem(try await make(perUser, #"{"name":"a","tools":["intercom.nope"]}"#), 422, code: "validation_failed", field: "tools[0]")
            try expectProblem(try await make(perUser, #"{"name":"a","expiresIn":5}"#), 422, code: "validation_failed", field: "expiresIn")
            try expectProblem(try await make(perUser, #"{"name":"a","tokn":"x"}"#), 422, code: "validation_failed", field: "tokn")
            try expectProblem(try await make(shared, #"{"name":"a","userId":"u"}"#), 409, code: "preauthorized_integration", field: "userId")
            try expectProblem(try await make("int_nope", #"{"name":"a"}"#), 404, code: "not_found")

            // The integration's allow-list: set, shown, and a token cannot reach past it.
            let patched = try await client.call(.patch, "/v1/integrations/\(perUser)", harness, json: #"{"tools":["intercom.get_contact"]}"#)
            #expect(try object(patched)["tools"] as? [String] == ["intercom.get_contact"], "\(text(patched))")
            try expectProblem(try await client.call(.patch, "/v1/integrations/\(perUser)", harness, json: #"{"tools":["intercom.nope"]}"#),
                              422, code: "validation_failed", field: "tools[0]")
            let outside = try expectProblem(try await make(perUser, #"{"name":"a","tools":["intercom.create_ticket"]}"#), 409, code: "tool_not_allowed",
                                            field: "tools[0]")
            #expect((outside["detail"] as? String)?.contains("not within the integration's tool allow-list") == true, "\(outside)")
            #expect(try await make(perUser, #"{"name":"a","tools":["intercom.get_contact"]}"#).status == .created)
            #expect(try await harness.store.database.read { db in try await db.raw("SELECT id FROM agent_tokens").all().count } == 1,
                    "nothing stored for the refused ones")
        }
    }

    @Test("every run says which channel ran it")
    func runsHaveAChannel() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            #expect(try await harness.run(client, id, "intercom.who_am_i", "{}").status == .ok)
            let runs = try object(try await client.call(.get, "/v1/runs?limit=1", harness))
            let run = try #require((runs["data"] as? [[String: Any]])?.first)
            #expect(run["channel"] as? String == "api")
            #expect(run["agentTokenId"] is NSNull)
        }
    }
}
