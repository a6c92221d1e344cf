import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import IntercomSandbox
import NIOHTTP1
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

@Suite("Pre-authorize the integration")
struct PreauthorizeTests {
    @Test("system app: configured → authorized → enabled → disabled → enabled, with the Intercom workspace recorded", arguments: Backend.available)
    func systemApp(backend: Backend) async throws {
        try await Harness.with(backend) { harness, client in
            let id = try await harness.createIntegration(client)
            #expect(try object(try await client.call(.get, "/v1/integrations/\(id)", harness))["status"] as? String == "configured")

            let authorizationURL = try await harness.startAuthorization(client, integrationID: id)
            #expect(authorizationURL.hasPrefix(harness.sandbox.url + "/oauth?"))
            let items = queryItems(authorizationURL)
            #expect(items["client_id"] == harness.systemApp.clientID)
            #expect(items["redirect_uri"] == "https://switchboard.test/oauth/callback")
            #expect(OAuthState.isWellFormed(items["state"] ?? ""))

            let location = try await SandboxBrowser.authorize(authorizationURL)
            let page = try await harness.callback(client, location)
            #expect(page.status == .ok)
            #expect(text(page).contains("Intercom workspace Acme Support connected"))

            let authorized = try object(try await client.call(.get, "/v1/integrations/\(id)", harness))
            #expect(authorized["status"] as? String == "authorized")
            let connection = try #require(authorized["connection"] as? [String: Any])
            #expect(connection["status"] as? String == "active")
            #expect((connection["account"] as? [String: Any])?["id"] as? String == "acme7x2k")
            #expect((connection["account"] as? [String: Any])?["name"] as? String == "Acme Support")

            let enabled = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
            #expect(try object(enabled)["status"] as? String == "enabled")
            let disabled = try await client.call(.post, "/v1/integrations/\(id)/disable", harness)
            #expect(try object(disabled)["status"] as? String == "disabled")
            let again = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
            #expect(try object(again)["status"] as? String == "enabled")

            let connections = try object(try await client.call(.get, "/v1/integrations/\(id)/connections", harness))
            #expect(connections["count"] as? Int == 1)
        }
    }

    @Test("custom profile pasted as in the guide (client_id=****&state=abc) authorizes with its own app", arguments: Backend.available)
    func customProfile(backend: Backend) async throws {
        try await Harness.with(backend, systemApp: false) { harness, client in
            let app = await harness.sandbox.state.registerApp(name: "Acme's own app", redirectURLs: ["https://switchboard.test/oauth/callback"])
            let created = try await client.call(.post, "/v1/auth-profiles", harness, json: """
                {"name":"Intercom (Acme)","clientId":"\(app.clientID)","clientSecret":"\(app.clientSecret)",
                 "authorizationURL":"\(harness.sandbox.url)/oauth?client_id=****&state=abc",
                 "tokenURL":"\(harness.sandbox.url)/auth/eagle/token","refreshTokenURL":"\(harness.sandbox.url)/auth/eagle/token"}
                """)
            #expect(created.status == .created)
            let profile = try object(created)
            #expect(profile["exchangeStyle"] as? String == "intercom")
            let profileID = try #require(profile["id"] as? String)
            #expect(profile["callbackURL"] as? String == "https://switchboard.test/oauth/callback/\(profileID)", "a callback URL of its own")
            // As in Intercom's Developer Hub: the app's Redirect URLs get the profile's callback URL.
            await harness.sandbox.state.setRedirectURLs(clientID: app.clientID, ["https://switchboard.test/oauth/callback/\(profileID)"])

            let id = try await harness.createIntegration(client, app: "custom", profileID: profileID)
            let url = try await harness.startAuthorization(client, integrationID: id)
            #expect(queryItems(url)["client_id"] == app.clientID)
            #expect(queryItems(url)["state"] != "abc")
            let page = try await harness.preauthorizeFrom(url, client: client)
            #expect(page.status == .ok, "\(text(page))")
            let enabled = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
            #expect(try object(enabled)["status"] as? String == "enabled")
        }
    }

    @Test("enabling before authorizing is refused and nothing changes")
    func enableWithoutConnection() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            try expectProblem(try await client.call(.post, "/v1/integrations/\(id)/enable", harness), 409, code: "authorization_required")
            #expect(try object(try await client.call(.get, "/v1/integrations/\(id)", harness))["status"] as? String == "configured")
        }
    }

    @Test("a grant revoked in Intercom: enabling is refused and the integration shows error")
    func revokedGrant() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
            let token = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "")?.tokens.accessToken)
            #expect(await harness.sandbox.state.revoke(token: token))
            try expectProblem(try await client.call(.post, "/v1/integrations/\(id)/enable", harness), 409, code: "reauthorization_required")
            let shown = try object(try await client.call(.get, "/v1/integrations/\(id)", harness))
            #expect(shown["status"] as? String == "error")
            #expect((shown["connection"] as? [String: Any])?["status"] as? String == "needs_reauthorization")
            // Re-authorizing brings it back.
            #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
            #expect(try object(try await client.call(.get, "/v1/integrations/\(id)", harness))["status"] as? String == "authorized")
            #expect(try await harness.connectionCount() == 1)
        }
    }

    @Test("a per-user integration is never pre-authorized")
    func perUserRefusesAuthorize() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client, authorization: "per_user")
            try expectProblem(try await client.call(.post, "/v1/integrations/\(id)/authorize", harness), 409, code: "per_user_integration")
            #expect(try object(try await client.call(.post, "/v1/integrations/\(id)/enable", harness))["status"] as? String == "enabled")
        }
    }

    @Test("deleting an integration deletes its credentials")
    func deleteRemovesCredentials() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            #expect(try await harness.preauthorize(client, integrationID: id).status == .ok)
            #expect(try await harness.connectionCount() == 1)
            let token = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: Connection.sharedUser)?.tokens.accessToken)
            #expect(try await harness.sandbox.me(token: token) == 200)
            #expect(try await client.call(.delete, "/v1/integrations/\(id)", harness).status == .noContent)
            #expect(try await harness.connectionCount() == 0)
            try expectProblem(try await client.call(.get, "/v1/integrations/\(id)", harness), 404, code: "not_found")
            #expect(try await harness.sandbox.me(token: token) == 401, "the grant was revoked at Intercom before the integration went")
            let audit = try #require(try object(try await client.call(.get, "/v1/audit?limit=1", harness))["data"] as? [[String: Any]])
            #expect(audit.first?["action"] as? String == "integration.deleted")
            #expect((audit.first?["detail"] as? [String: Any])?["grantsRevoked"] as? Int == 1)
        }
    }
}

extension Harness {
    func preauthorizeFrom(_ url: String, client: any TestClientProtocol) async throws -> TestResponse {
        let location = try await SandboxBrowser.authorize(url)
        return try await callback(client, location)
    }
}

@Suite("OAuth callback failures store nothing")
struct CallbackFailureTests {
    @Test("denied consent")
    func denied() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            let url = try await harness.startAuthorization(client, integrationID: id)
            let location = try await SandboxBrowser.authorize(url, decision: "deny")
            let page = try await harness.callback(client, location)
            #expect(page.status == .forbidden)
            #expect(text(page).contains("Access was not granted"))
            #expect(try await harness.connectionCount() == 0)
            #expect(try object(try await client.call(.get, "/v1/integrations/\(id)", harness))["status"] as? String == "configured")
        }
    }

    @Test("a replayed callback is refused and the connection is not touched")
    func replay() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            let url = try await harness.startAuthorization(client, integrationID: id)
            let location = try await SandboxBrowser.authorize(url)
            #expect(try await harness.callback(client, location).status == .ok)
            let before = try await harness.store.connections.connection(integrationID: id, endUserID: "")
            let replay = try await harness.callback(client, location)
            #expect(replay.status == .badRequest)
            #expect(text(replay).contains("already used"))
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "") == before)
        }
    }

    @Test("an expired state (over 10 minutes) is refused")
    func expired() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            let url = try await harness.startAuthorization(client, integrationID: id)
            let location = try await SandboxBrowser.authorize(url)
            harness.clock.advance(by: 601)
            let page = try await harness.callback(client, location)
            #expect(page.status == .badRequest)
            #expect(text(page).contains("expired"))
            #expect(try await harness.connectionCount() == 0)
        }
    }

    @Test("garbage, unknown states and missing codes get a clear page, never a 500", arguments: [
        "/oauth/callback", "/oauth/callback?state=", "/oauth/callback?code=abc&state=%3Cscript%3E",
        "/oauth/callback?code=abc&state=\(String(repeating: "A", count: 43))", "/oauth/callback?state=\(String(repeating: "x", count: 5000))",
    ])
    func garbage(uri: String) async throws {
        try await Harness.with { harness, client in
            let page = try await client.execute(uri: uri, method: .get)
            #expect(page.status == .badRequest)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(text(page).contains("not valid"))
            #expect(!text(page).contains("<script>"))
        }
    }

    @Test("a code the provider refuses: 502 page, nothing stored, the state is spent")
    func refusedCode() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            let url = try await harness.startAuthorization(client, integrationID: id)
            let state = try #require(queryItems(url)["state"])
            let page = try await harness.callback(client, "https://switchboard.test/oauth/callback?code=forged&state=\(state)")
            #expect(page.status == .badGateway)
            #expect(text(page).contains("did not accept"))
            #expect(try await harness.connectionCount() == 0)
            #expect(try await harness.callback(client, "https://switchboard.test/oauth/callback?code=forged&state=\(state)").status == .badRequest)
        }
    }

    @Test("an admin with an unverified email cannot be connected")
    func unverifiedAdmin() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            let page = try await harness.preauthorize(client, integrationID: id, email: "uli@globex.test")
            #expect(page.status == .badGateway)
            #expect(text(page).contains("not verified"))
            #expect(try await harness.connectionCount() == 0)
        }
    }
}
