import Foundation
import Testing
@testable import SwitchboardCore

@Suite("PKCE and state")
struct PKCEAndStateTests {
    @Test("S256 challenge matches RFC 7636 appendix B")
    func rfcVector() {
        let pkce = PKCE(verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        #expect(pkce.challenge == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    }

    @Test("fresh verifiers are 43 base64url characters and differ")
    func freshVerifiers() {
        let a = PKCE(), b = PKCE()
        #expect(a.verifier.count == 43)
        #expect(a.verifier != b.verifier)
        #expect(a.verifier.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    @Test("state carries 256 bits and is recognised as well formed")
    func state() {
        let states = Set((0..<200).map { _ in OAuthState.generate() })
        #expect(states.count == 200)
        for state in states {
            #expect(Base64URL.decode(state)?.count == 32)
            #expect(OAuthState.isWellFormed(state))
        }
        #expect(!OAuthState.isWellFormed("abc"))
        #expect(!OAuthState.isWellFormed(String(repeating: "a", count: 42) + "="))
        #expect(!OAuthState.isWellFormed(String(repeating: "é", count: 43)))
    }
}

@Suite("URL templates")
struct URLTemplateTests {
    @Test func expandsPlaceholders() throws {
        let url = try URLTemplate.expand("https://{tenant}.example.com/{region}/oauth", fields: ["tenant": "acme", "region": "eu"])
        #expect(url == "https://acme.example.com/eu/oauth")
    }

    @Test func reportsEveryMissingField() {
        #expect(throws: URLTemplate.MissingField(names: ["region", "tenant"])) {
            try URLTemplate.expand("https://{tenant}.example.com/{region}/{tenant}", fields: [:])
        }
    }

    @Test func encodesValuesSoTheyCannotChangeTheURLShape() throws {
        let url = try URLTemplate.expand("https://{tenant}.example.com/oauth", fields: ["tenant": "a/b?c"])
        #expect(url == "https://a%2Fb%3Fc.example.com/oauth")
    }

    @Test func listsPlaceholders() {
        #expect(URLTemplate.placeholders(in: "https://x/{a}/{b_c}?q={d.e}") == ["a", "b_c", "d.e"])
        #expect(URLTemplate.placeholders(in: "https://app.intercom.com/oauth").isEmpty)
    }
}

@Suite("Authorization URL")
struct AuthorizationURLTests {
    func query(_ url: URL?) -> [String: String] {
        var result: [String: String] = [:]
        for item in URLComponents(url: url!, resolvingAgainstBaseURL: false)?.queryItems ?? [] { result[item.name] = item.value }
        return result
    }

    @Test("a pasted Intercom URL's client_id and fixed state are replaced, not trusted")
    func pastedGuideURL() {
        let app = OAuthApp(clientID: "real-id", clientSecret: "s", authorizationURL: "https://app.intercom.com/oauth?client_id=****&state=abc",
                           tokenURL: "https://api.intercom.io/auth/eagle/token", exchangeStyle: .intercom)
        let url = app.authorizationRequestURL(state: "S", redirectURI: "https://sb.example/oauth/callback", pkce: nil)
        let items = query(url)
        #expect(items["client_id"] == "real-id")
        #expect(items["state"] == "S")
        #expect(items["redirect_uri"] == "https://sb.example/oauth/callback")
        #expect(items["response_type"] == nil, "Intercom's flavour sends no response_type")
        #expect(url?.absoluteString.components(separatedBy: "state=").count == 2, "exactly one state parameter")
        #expect(url?.host == "app.intercom.com")
    }

    @Test("standard providers get response_type, scope and the PKCE challenge")
    func standard() {
        let app = OAuthApp(clientID: "c", clientSecret: "s", authorizationURL: "https://idp.example/authorize?prompt=consent",
                           tokenURL: "https://idp.example/token", scopes: ["read", "write"], pkce: true,
                           authorizationParameters: ["audience": "api", "state": "evil"])
        let pkce = PKCE(verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        let items = query(app.authorizationRequestURL(state: "S", redirectURI: "https://sb/cb", pkce: pkce))
        #expect(items["response_type"] == "code")
        #expect(items["scope"] == "read write")
        #expect(items["code_challenge"] == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        #expect(items["code_challenge_method"] == "S256")
        #expect(items["prompt"] == "consent")
        #expect(items["audience"] == "api")
        #expect(items["state"] == "S", "extra parameters cannot override the state")
    }
}

@Suite("Token requests")
struct TokenRequestTests {
    func form(_ request: OutboundRequest?) -> [String: String] {
        Dictionary(uniqueKeysWithValues: FormEncoding.decode(String(decoding: request!.body!, as: UTF8.self)))
    }

    @Test("Intercom's exchange: code, client_id, client_secret and nothing else; a code ending in '=' survives")
    func intercomExchange() {
        let app = OAuthApp(clientID: "cid", clientSecret: "sec", authorizationURL: "https://app.intercom.com/oauth",
                           tokenURL: "https://api.intercom.io/auth/eagle/token", exchangeStyle: .intercom)
        let request = app.codeExchangeRequest(code: "abc+/def=", redirectURI: "https://sb/cb", codeVerifier: "v")
        #expect(form(request) == ["code": "abc+/def=", "client_id": "cid", "client_secret": "sec"])
        #expect(request?.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(request?.url.absoluteString == "https://api.intercom.io/auth/eagle/token")
    }

    @Test("RFC 6749 exchange with PKCE, as JSON when asked")
    func standardExchange() throws {
        let app = OAuthApp(clientID: "cid", clientSecret: "sec", authorizationURL: "https://idp/a", tokenURL: "https://idp/t",
                           pkce: true, tokenRequestFormat: .json)
        let request = app.codeExchangeRequest(code: "c", redirectURI: "https://sb/cb", codeVerifier: "ver")
        let body = try #require(JSONValue.parse(request!.body!)?.objectValue)
        #expect(body == ["grant_type": .string("authorization_code"), "code": .string("c"), "redirect_uri": .string("https://sb/cb"),
                         "client_id": .string("cid"), "client_secret": .string("sec"), "code_verifier": .string("ver")])
        #expect(request?.header("Content-Type") == "application/json")
    }

    @Test("refresh goes to the refresh URL with grant_type=refresh_token")
    func refresh() {
        let app = OAuthApp(clientID: "cid", clientSecret: "sec", authorizationURL: "https://idp/a", tokenURL: "https://idp/t",
                           refreshTokenURL: "https://idp/refresh")
        let request = app.refreshRequest(refreshToken: "r1")
        #expect(request?.url.absoluteString == "https://idp/refresh")
        #expect(form(request) == ["grant_type": "refresh_token", "refresh_token": "r1", "client_id": "cid", "client_secret": "sec"])
    }
}

@Suite("Token responses")
struct TokenResponseTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func response(_ status: Int, _ body: String) -> OutboundResponse {
        OutboundResponse(status: status, body: Data(body.utf8))
    }

    /// Intercom's answer shape, as its definition gives it (ProvidersTests checks the definition says this).
    static let intercomShape = TokenAnswerShape(accessToken: ["access_token", "token"], errorList: "errors", errorCode: "code", errorMessage: "message")

    func parse(_ response: OutboundResponse, now: Date) -> Result<TokenGrant, TokenEndpointError> {
        TokenResponse.parse(response, now: now, shape: Self.intercomShape)
    }

    @Test("Intercom's shape: token and access_token, no expiry, no refresh token")
    func intercomShape() throws {
        let grant = try parse(response(200, #"{"token_type":"Bearer","token":"T1","access_token":"T1"}"#), now: now).get()
        #expect(grant == TokenGrant(accessToken: "T1", refreshToken: nil, tokenType: "Bearer", expiresAt: nil, scope: nil, issuedAt: now))
    }

    @Test("Intercom's shape with only `token`")
    func tokenOnly() throws {
        #expect(try parse(response(200, #"{"token":"T2"}"#), now: now).get().accessToken == "T2")
    }

    @Test("RFC 6749 shape: expiry from expires_in, refresh token, scope, and when it was issued")
    func standardShape() throws {
        let body = #"{"access_token":"A","token_type":"bearer","expires_in":3600,"refresh_token":"R","scope":"read write"}"#
        let grant = try parse(response(200, body), now: now).get()
        #expect(grant == TokenGrant(accessToken: "A", refreshToken: "R", tokenType: "bearer", expiresAt: now.addingTimeInterval(3600), scope: "read write",
                                      issuedAt: now))
    }

    @Test("expires_in as a string, and a form-encoded body")
    func lenientShapes() throws {
        #expect(try parse(response(200, #"{"access_token":"A","expires_in":"60"}"#), now: now).get().expiresAt == now.addingTimeInterval(60))
        #expect(try parse(response(200, "access_token=A%2B&token_type=bearer"), now: now).get().accessToken == "A+")
    }

    @Test("invalid_grant is permanent; 5xx and 429 are transient; invalid_client is misconfiguration")
    func errors() {
        #expect(parse(response(400, #"{"error":"invalid_grant","error_description":"expired"}"#), now: now)
            == .failure(.permanent(code: "invalid_grant", description: "expired")))
        #expect(parse(response(401, #"{"type":"error.list","errors":[{"code":"unauthorized","message":"Unauthorized Code"}]}"#), now: now)
            == .failure(.permanent(code: "unauthorized", description: "Unauthorized Code")))
        guard case .failure(.transient) = parse(response(503, "busy"), now: now) else { Issue.record("503 must be transient"); return }
        guard case .failure(.transient) = parse(response(429, "{}"), now: now) else { Issue.record("429 must be transient"); return }
        #expect(parse(response(401, #"{"error":"invalid_client"}"#), now: now)
            == .failure(.misconfigured(code: "invalid_client", description: "the token endpoint answered HTTP 401")))
    }

    @Test("a 200 without a token is not a grant")
    func noToken() {
        guard case .failure(.transient) = parse(response(200, #"{"token_type":"Bearer"}"#), now: now) else {
            Issue.record("expected a failure")
            return
        }
    }
}
