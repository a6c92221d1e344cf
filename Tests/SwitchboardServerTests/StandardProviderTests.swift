import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// A standard OAuth 2.0 provider (RFC 6749 + PKCE) and an Intercom `/me`, scripted in one transport.
final class StandardProvider: @unchecked Sendable {
    private let lock = NSLock()
    private var challenges: [String: String] = [:]
    /// Each code's redirect URI: RFC 6749 §4.1.3 wants the token request to name the same one.
    private var redirects: [String: String] = [:]
    private(set) var exchanges: [[String: String]] = []

    /// Remembers the challenge a browser would carry to the provider, under the code it will issue.
    func issueCode(forAuthorizationURL url: String) -> String {
        let items = URLComponents(string: url)!.queryItems!
        let code = "code-\(UUID().uuidString)"
        lock.withLock {
            challenges[code] = items.first { $0.name == "code_challenge" }?.value
            redirects[code] = items.first { $0.name == "redirect_uri" }?.value
        }
        return code
    }

    var transport: ClosureTransport {
        ClosureTransport { request in
            if request.url.path == "/me" {
                guard request.header("Authorization") == "Bearer std-access-1" else {
                    return OutboundResponse(status: 401, body: Data(#"{"type":"error.list","errors":[{"code":"unauthorized","message":"no"}]}"#.utf8))
                }
                return OutboundResponse(status: 200, body: Data(#"{"type":"admin","id":"1","email":"a@b.test","email_verified":true,"app":{"id_code":"std1","name":"Std Workspace","region":"US"}}"#.utf8))
            }
            let body = JSONValue.parse(request.body ?? Data())?.objectValue?.compactMapValues(\.stringValue) ?? [:]
            self.lock.withLock { self.exchanges.append(body) }
            let (challenge, redirect) = self.lock.withLock { (self.challenges[body["code"] ?? ""], self.redirects[body["code"] ?? ""]) }
            guard body["grant_type"] == "authorization_code", let verifier = body["code_verifier"],
                  let challenge, PKCE.challenge(for: verifier) == challenge,
                  let redirect, body["redirect_uri"] == redirect, body["client_secret"] == "std-secret"
            else {
                return OutboundResponse(status: 400, body: Data(#"{"error":"invalid_grant"}"#.utf8))
            }
            return OutboundResponse(status: 200, body: Data(#"{"access_token":"std-access-1","token_type":"Bearer","expires_in":3600,"refresh_token":"std-refresh-1","scope":"read"}"#.utf8))
        }
    }
}

@Suite("Standard OAuth 2.0 profiles")
struct StandardProviderTests {
    @Test("a PKCE profile with a JSON token request: S256 challenge out, verifier back, refresh token and expiry stored")
    func pkceExchange() async throws {
        let provider = StandardProvider()
        try await Harness.with(systemApp: false, transport: provider.transport) { harness, client in
            let created = try await client.call(.post, "/v1/auth-profiles", harness, json: """
                {"name":"IdP","clientId":"std-client","clientSecret":"std-secret","authorizationURL":"https://{tenant}.idp.example/authorize",
                 "tokenURL":"https://idp.example/token","scopes":["read"],"pkce":true,"tokenRequestFormat":"json","fields":{"tenant":"acme"}}
                """)
            let profileID = try #require(try object(created)["id"] as? String)
            let id = try await harness.createIntegration(client, app: "custom", profileID: profileID)
            let url = try await harness.startAuthorization(client, integrationID: id)
            #expect(url.hasPrefix("https://acme.idp.example/authorize?"))
            let items = queryItems(url)
            #expect(items["response_type"] == "code")
            #expect(items["code_challenge_method"] == "S256")
            #expect(items["scope"] == "read")

            let code = provider.issueCode(forAuthorizationURL: url)
            #expect(items["redirect_uri"] == "https://switchboard.test/oauth/callback/\(profileID)", "the profile's own callback URL")
            let page = try await harness.callback(client, "https://switchboard.test/oauth/callback/\(profileID)?code=\(code)&state=\(items["state"]!)")
            #expect(page.status == .ok, "\(text(page))")
            let connection = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: ""))
            #expect(connection.tokens.refreshToken == "std-refresh-1")
            #expect(connection.tokens.expiresAt?.unixSeconds == harness.clock.now().addingTimeInterval(3600).unixSeconds, "stored in whole seconds")
            #expect(connection.account.name == "Std Workspace")
            #expect(provider.exchanges.count == 1)
            #expect(provider.exchanges.first?["client_id"] == "std-client")
        }
    }

    @Test("a verifier that does not match the challenge is refused by the provider and nothing is stored")
    func wrongVerifier() async throws {
        let provider = StandardProvider()
        try await Harness.with(systemApp: false, transport: provider.transport) { harness, client in
            let created = try await client.call(.post, "/v1/auth-profiles", harness, json: """
                {"name":"IdP","clientId":"std-client","clientSecret":"std-secret","authorizationURL":"https://idp.example/authorize",
                 "tokenURL":"https://idp.example/token","pkce":true,"tokenRequestFormat":"json"}
                """)
            let profileID = try #require(try object(created)["id"] as? String)
            let id = try await harness.createIntegration(client, app: "custom", profileID: profileID)
            let first = try await harness.startAuthorization(client, integrationID: id)
            let second = try await harness.startAuthorization(client, integrationID: id)
            // The code was issued for the first authorization's challenge, but comes back with the second's state.
            let code = provider.issueCode(forAuthorizationURL: first)
            let page = try await harness.callback(client, "https://switchboard.test/oauth/callback/\(profileID)?code=\(code)&state=\(queryItems(second)["state"]!)")
            #expect(page.status == .badGateway)
            #expect(try await harness.connectionCount() == 0)
        }
    }
}
