import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import IntercomSandbox

/// A clock the test moves.
final class TestTime: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)
    func now() -> Date { lock.withLock { current } }
    func advance(_ seconds: TimeInterval) { lock.withLock { current = current.addingTimeInterval(seconds) } }
}

let callback = "https://switchboard.example/oauth/callback"

func makeSandbox(time: TestTime = TestTime()) async -> (SandboxState, SandboxApp, some ApplicationProtocol) {
    let state = SandboxState(seed: .standard, now: { time.now() })
    let app = await state.registerApp(name: "Test app", redirectURLs: [callback, "https://other.example/cb"])
    return (state, app, Application(router: buildSandboxRouter(state: state)))
}

func form(_ pairs: [(String, String)]) -> ByteBuffer {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return ByteBuffer(string: pairs.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
}

let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

func queryItems(_ location: String) -> [String: String] {
    var result: [String: String] = [:]
    for item in URLComponents(string: location)?.queryItems ?? [] { result[item.name] = item.value }
    return result
}

/// Logs in as `email` and answers the consent page; returns the redirect Location.
func walkConsent(_ client: some TestClientProtocol, app: SandboxApp, email: String = "ada@acme.test", state: String? = "st8",
                 redirect: String = callback, decision: String = "allow") async throws -> String {
    var fields = [("client_id", app.clientID), ("redirect_uri", redirect), ("email", email), ("password", "sandbox-password")]
    if let state { fields.append(("state", state)) }
    let page = try await client.execute(uri: "/oauth/login", method: .post, headers: formHeaders, body: form(fields))
    #expect(page.status == .ok)
    let html = String(buffer: page.body)
    let session = try #require(html.firstMatch(of: /name="session" value="([^"]+)"/)?.1)
    let answer = try await client.execute(uri: "/oauth/authorize", method: .post, headers: formHeaders,
                                          body: form([("session", String(session)), ("decision", decision)]))
    #expect(answer.status == .found)
    return try #require(answer.headers[.location])
}

func exchange(_ client: some TestClientProtocol, code: String, app: SandboxApp, secret: String? = nil) async throws -> TestResponse {
    try await client.execute(uri: "/auth/eagle/token", method: .post, headers: formHeaders,
                             body: form([("code", code), ("client_id", app.clientID), ("client_secret", secret ?? app.clientSecret)]))
}

func json(_ response: TestResponse) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8)) as? [String: Any])
}

@Suite("Sandbox OAuth")
struct SandboxOAuthTests {
    @Test("the authorize page shows a login form for a registered app and redirect URL")
    func loginForm() async throws {
        let (_, app, application) = await makeSandbox()
        try await application.test(.router) { client in
            let ok = try await client.execute(uri: "/oauth?client_id=\(app.clientID)&state=abc", method: .get)
            #expect(ok.status == .ok)
            #expect(String(buffer: ok.body).contains("Log in to Intercom"))
            let unknown = try await client.execute(uri: "/oauth?client_id=nope&state=abc", method: .get)
            #expect(unknown.status == .badRequest)
            #expect(String(buffer: unknown.body).contains("Unknown app"))
            let badRedirect = try await client.execute(uri: "/oauth?client_id=\(app.clientID)&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", method: .get)
            #expect(badRedirect.status == .badRequest)
            #expect(String(buffer: badRedirect.body).contains("not one of the redirect URLs"))
        }
    }

    @Test("a wrong password re-shows the form with an error")
    func wrongPassword() async throws {
        let (_, app, application) = await makeSandbox()
        try await application.test(.router) { client in
            let response = try await client.execute(uri: "/oauth/login", method: .post, headers: formHeaders, body: form([
                ("client_id", app.clientID), ("redirect_uri", callback), ("email", "ada@acme.test"), ("password", "wrong"),
            ]))
            #expect(response.status == .unauthorized)
            #expect(String(buffer: response.body).contains("don&#39;t match") || String(buffer: response.body).contains("don't match"))
        }
    }

    @Test("allow redirects with code and state; the code trades once for Intercom's token shape")
    func allowAndExchange() async throws {
        let (_, app, application) = await makeSandbox()
        try await application.test(.router) { client in
            let location = try await walkConsent(client, app: app, state: "s+/=1")
            #expect(location.hasPrefix(callback + "?"))
            let items = queryItems(location)
            #expect(items["state"] == "s+/=1")
            let code = try #require(items["code"])
            #expect(code.hasSuffix("="), "20-byte codes in base64 end in '=' as Intercom's can")

            let granted = try await exchange(client, code: code, app: app)
            #expect(granted.status == .ok)
            let body = try json(granted)
            #expect(body["token_type"] as? String == "Bearer")
            #expect(body["token"] as? String != nil)
            #expect(body["token"] as? String == body["access_token"] as? String)
            #expect(body["refresh_token"] == nil && body["expires_in"] == nil)

            let replay = try await exchange(client, code: code, app: app)
            #expect(replay.status == .unauthorized)
            let errors = try json(replay)["errors"] as? [[String: Any]]
            #expect(errors?.first?["message"] as? String == "Unauthorized Code")
            #expect(try json(replay)["type"] as? String == "error.list")
        }
    }

    @Test("deny redirects with error=access_denied and the state")
    func deny() async throws {
        let (_, app, application) = await makeSandbox()
        try await application.test(.router) { client in
            let items = queryItems(try await walkConsent(client, app: app, decision: "deny"))
            #expect(items["error"] == "access_denied")
            #expect(items["state"] == "st8")
            #expect(items["code"] == nil)
        }
    }

    @Test("a code works only for its app, with the right secret, within five minutes")
    func codeRules() async throws {
        let time = TestTime()
        let (state, app, application) = await makeSandbox(time: time)
        let other = await state.registerApp(name: "Other", redirectURLs: [callback])
        try await application.test(.router) { client in
            let code1 = try #require(queryItems(try await walkConsent(client, app: app))["code"])
            #expect(try await exchange(client, code: code1, app: app, secret: "wrong").status == .unauthorized)
            #expect(try await exchange(client, code: code1, app: other).status == .unauthorized, "another app cannot use it")
            let code2 = try #require(queryItems(try await walkConsent(client, app: app))["code"])
            time.advance(301)
            #expect(try await exchange(client, code: code2, app: app).status == .unauthorized, "expired")
            let missing = try await client.execute(uri: "/auth/eagle/token", method: .post, headers: formHeaders, body: form([("code", "x")]))
            #expect(missing.status == .badRequest)
            #expect((try json(missing)["errors"] as? [[String: Any]])?.first?["field"] as? String == "client_id")
        }
    }

    @Test("the token endpoint also takes JSON bodies")
    func jsonExchange() async throws {
        let (_, app, application) = await makeSandbox()
        try await application.test(.router) { client in
            let code = try #require(queryItems(try await walkConsent(client, app: app))["code"])
            let body = try JSONSerialization.data(withJSONObject: ["code": code, "client_id": app.clientID, "client_secret": app.clientSecret])
            let response = try await client.execute(uri: "/auth/eagle/token", method: .post, headers: [.contentType: "application/json"],
                                                    body: ByteBuffer(bytes: body))
            #expect(response.status == .ok)
        }
    }

    @Test("/me answers the admin with its workspace as the spec's admin_with_app; uninstall revokes")
    func meAndUninstall() async throws {
        let (_, app, application) = await makeSandbox()
        try await application.test(.router) { client in
            let code = try #require(queryItems(try await walkConsent(client, app: app, email: "bea@globex.test"))["code"])
            let token = try #require(try json(try await exchange(client, code: code, app: app))["token"] as? String)
            let auth: HTTPFields = [.authorization: "Bearer \(token)", .accept: "application/json"]
            let me = try await client.execute(uri: "/me", method: .get, headers: auth)
            #expect(me.status == .ok)
            let body = try json(me)
            #expect(body["type"] as? String == "admin")
            #expect(body["email"] as? String == "bea@globex.test")
            #expect(body["email_verified"] as? Bool == true)
            let workspace = try #require(body["app"] as? [String: Any])
            #expect(workspace["type"] as? String == "app")
            #expect(workspace["id_code"] as? String == "glbx4eu9")
            #expect(workspace["region"] as? String == "Europe")
            #expect(workspace["created_at"] as? Int != nil)

            #expect(try await client.execute(uri: "/auth/uninstall", method: .post, headers: auth).status == .ok)
            let revoked = try await client.execute(uri: "/me", method: .get, headers: auth)
            #expect(revoked.status == .unauthorized)
            #expect((try json(revoked)["errors"] as? [[String: Any]])?.first?["code"] as? String == "token_revoked")

            let anonymous = try await client.execute(uri: "/me", method: .get)
            #expect(anonymous.status == .unauthorized)
            let errorBody = try json(anonymous)
            #expect(errorBody["type"] as? String == "error.list")
            #expect(errorBody["request_id"] as? String != nil)
            #expect((errorBody["errors"] as? [[String: Any]])?.first?["code"] as? String == "unauthorized")
        }
    }

    @Test("the developer hub registers apps and refuses bad ones")
    func developerHub() async throws {
        let (state, _, application) = await makeSandbox()
        try await application.test(.router) { client in
            let body = try JSONSerialization.data(withJSONObject: ["name": "Mine", "redirectURLs": [callback]])
            let created = try await client.execute(uri: "/_sandbox/apps", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(bytes: body))
            #expect(created.status == .created)
            let clientID = try #require(try json(created)["clientId"] as? String)
            #expect(try json(created)["clientSecret"] as? String != nil)
            #expect(await state.app(clientID: clientID)?.redirectURLs == [callback])

            for bad in [["name": "x"], ["name": "", "redirectURLs": [callback]], ["name": "x", "redirectURLs": ["not a url"]]] as [[String: Any]] {
                let response = try await client.execute(uri: "/_sandbox/apps", method: .post, headers: [.contentType: "application/json"],
                                                        body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: bad)))
                #expect(response.status == .badRequest)
            }
        }
    }
}
