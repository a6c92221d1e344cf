import Foundation
import HTTPTypes
import HummingbirdTesting
import IntercomSandbox
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

@Suite("Authorization profiles under change")
struct ProfileChangeTests {
    /// A custom profile on the sandbox's own app and a pre-authorized, enabled integration connected through it.
    func connectedThroughProfile(_ harness: Harness, _ client: any TestClientProtocol) async throws -> (profileID: String, integrationID: String) {
        let (profileID, _) = try await harness.sandboxProfile(client)
        let id = try await harness.createIntegration(client, app: "custom", profileID: profileID)
        #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
        #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", harness).status == .ok)
        return (profileID, id)
    }

    func sharedStatus(_ harness: Harness, _ id: String) async throws -> String? {
        try await harness.store.connections.connection(integrationID: id, endUserID: Connection.sharedUser)?.status.rawValue
    }

    @Test("changing a profile's client or endpoints marks its connections for reauthorization, and says so in the audit log; renaming does not",
          arguments: [#"{"tokenURL":"https://idp.example/token"}"#, #"{"refreshTokenURL":"https://idp.example/refresh"}"#,
                      #"{"clientId":"another-client"}"#, #"{"authorizationURL":"https://other.example/oauth"}"#])
    func endpointChange(patch: String) async throws {
        try await Harness.with(systemApp: false) { harness, client in
            let (profileID, id) = try await connectedThroughProfile(harness, client)
            #expect(try await client.call(.patch, "/v1/auth-profiles/\(profileID)", harness, json: #"{"name":"Renamed","description":"x"}"#).status == .ok)
            #expect(try await sharedStatus(harness, id) == "active")

            harness.clock.advance(by: 1)
            #expect(try await client.call(.patch, "/v1/auth-profiles/\(profileID)", harness, json: patch).status == .ok)
            #expect(try await sharedStatus(harness, id) == "needs_reauthorization")
            #expect(try object(try await client.call(.get, "/v1/integrations/\(id)", harness))["status"] as? String == "error")
            try expectProblem(try await harness.run(client, id, "intercom.who_am_i", "{}"), 409, code: "reauthorization_required")
            let audit = try #require(try object(try await client.call(.get, "/v1/audit?limit=1", harness))["data"] as? [[String: Any]])
            #expect((audit.first?["detail"] as? [String: Any])?["connectionsMarked"] as? Int == 1)
        }
    }

    @Test("each profile has its own callback URL: a code that comes back to the system app's (or another profile's) is refused there and not used up")
    func ownCallbackURL() async throws {
        try await Harness.with { harness, client in
            let app = await harness.sandbox.state.registerApp(name: "Acme's own app", redirectURLs: ["https://switchboard.test/elsewhere"])
            let created = try object(try await client.call(.post, "/v1/auth-profiles", harness, json: """
                {"name":"Intercom (Acme)","clientId":"\(app.clientID)","clientSecret":"\(app.clientSecret)",
                 "authorizationURL":"\(harness.sandbox.url)/oauth","tokenURL":"\(harness.sandbox.url)/auth/eagle/token"}
                """))
            let profileID = try #require(created["id"] as? String)
            let own = "https://switchboard.test/oauth/callback/\(profileID)"
            #expect(created["callbackURL"] as? String == own)
            // The sandbox, like Intercom, redirects to the URL the authorization named; a mix-up sends it elsewhere.
            await harness.sandbox.state.setRedirectURLs(clientID: app.clientID, [own])
            let id = try await harness.createIntegration(client, app: "custom", profileID: profileID)
            #expect(try object(try await client.call(.get, "/v1/integrations/\(id)", harness))["callbackURL"] as? String == own)
            let provider = try await harness.startAuthorization(client, integrationID: id)
            #expect(queryItems(provider)["redirect_uri"] == own)
            let location = try await SandboxBrowser.authorize(provider)
            let query = try #require(URLComponents(string: location)?.percentEncodedQuery)
            for wrong in ["https://switchboard.test/oauth/callback?", "https://switchboard.test/oauth/callback/ap_other?"] {
                let page = try await harness.callback(client, wrong + query)
                #expect(page.status == .badRequest && text(page).contains("wrong address"), "\(wrong)")
            }
            #expect(try await harness.connectionCount() == 0)
            #expect(try await harness.callback(client, location).status == .ok, "the right callback still works: the state was not used up")
        }
    }

    @Test("a custom profile cannot use the system app's client id")
    func notTheSystemApp() async throws {
        try await Harness.with { harness, client in
            try expectProblem(try await client.call(.post, "/v1/auth-profiles", harness, json: """
                {"name":"x","clientId":"\(harness.systemApp.clientID)","clientSecret":"s","authorizationURL":"https://idp.example/a","tokenURL":"https://idp.example/t"}
                """), 422, code: "validation_failed")
            let created = try object(try await client.call(.post, "/v1/auth-profiles", harness, json: validProfile))
            let profileID = try #require(created["id"] as? String)
            let body = try expectProblem(try await client.call(.patch, "/v1/auth-profiles/\(profileID)", harness,
                                                                json: "{\"clientId\":\"\(harness.systemApp.clientID)\"}"), 422, code: "validation_failed")
            #expect((body["errors"] as? [[String: Any]])?.first?["field"] as? String == "clientId")
        }
    }
}
