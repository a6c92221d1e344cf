import Foundation
import HTTPTypes
import HummingbirdTesting
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

@Suite("Admin audit log")
struct AuditTests {
    @Test("profile, integration and signing-secret changes are recorded with the key that made them, never a secret; paged, per workspace")
    func recorded() async throws {
        try await Harness.with { harness, client in
            let keyID = try #require(try await harness.store.workspaces.apiKeys(workspaceID: harness.workspace.id).first?.id)
            let profile = try object(try await client.call(.post, "/v1/auth-profiles", harness, json: validProfile))
            let profileID = try #require(profile["id"] as? String)
            harness.clock.advance(by: 1)
            #expect(try await client.call(.patch, "/v1/auth-profiles/\(profileID)", harness,
                                          json: #"{"clientSecret":"NEW-SECRET-VALUE","name":"Renamed"}"#).status == .ok)
            harness.clock.advance(by: 1)
            let created = try object(try await client.call(.post, "/v1/integrations", harness,
                json: #"{"name":"Bot","app":"system","authorization":"per_user","notifyURL":"https://assistant.example/events"}"#))
            let integrationID = try #require(created["id"] as? String)
            harness.clock.advance(by: 1)
            let rotated = try object(try await client.call(.post, "/v1/integrations/\(integrationID)/signing-secret", harness))
            let secret = try #require(rotated["signingSecret"] as? String)
            harness.clock.advance(by: 1)
            #expect(try await client.call(.delete, "/v1/integrations/\(integrationID)", harness).status == .noContent)
            harness.clock.advance(by: 1)
            #expect(try await client.call(.delete, "/v1/auth-profiles/\(profileID)", harness).status == .noContent)

            let page = try await client.call(.get, "/v1/audit", harness)
            let body = try object(page)
            let entries = try #require(body["data"] as? [[String: Any]])
            #expect(entries.map { $0["action"] as? String } == ["auth_profile.deleted", "integration.deleted", "signing_secret.rotated",
                                                                "integration.created", "auth_profile.updated", "auth_profile.created"])
            #expect(entries.allSatisfy { $0["actor"] as? String == keyID })
            let updated = try #require(entries.first { $0["action"] as? String == "auth_profile.updated" })
            #expect((updated["detail"] as? [String: Any])?["fields"] as? [String] == ["name", "clientSecret"])
            for leaked in ["TOP-SECRET-VALUE", "NEW-SECRET-VALUE", secret, harness.apiKey] { #expect(!text(page).contains(leaked)) }

            let first = try object(try await client.call(.get, "/v1/audit?limit=4", harness))
            let next = try #require(first["next"] as? String)
            let second = try object(try await client.call(.get, "/v1/audit?limit=4&starting_after=\(next)", harness))
            #expect((second["data"] as? [[String: Any]])?.map { $0["action"] as? String } == ["auth_profile.updated", "auth_profile.created"])

            let other = try await harness.otherWorkspaceKey()
            #expect(try object(try await client.call(.get, "/v1/audit", harness, key: other))["count"] as? Int == 0)
        }
    }
}
