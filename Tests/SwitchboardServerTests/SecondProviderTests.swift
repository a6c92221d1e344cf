import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Providers
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// "Acme Tasks": a standards-following OAuth 2.0 provider (RFC 6749 code grant with PKCE, rotating refresh tokens)
/// with its own error envelope (`{"error": {"code", "message", "param"}}`), request-id header, rate-limit headers and
/// cursor paging (`per_page`, `cursor`, `meta.next_cursor`), served over loopback. Switchboard knows it only from the
/// two files below: no Swift type, no `if provider == …`.
final class AcmeTasks: @unchecked Sendable {
    private let lock = NSLock()
    private var challenges: [String: (challenge: String, redirect: String)] = [:]
    private var accessTokens: Set<String> = []
    private var refreshTokens: Set<String> = []
    private var tasks: [[String: JSONValue]] = (1...5).map { ["id": .string("t\($0)"), "title": .string("Seeded task \($0)"), "assignee_id": .string("u0")] }
    private var issued = 0
    private(set) var pageSizes: [String] = []
    private(set) var refreshes = 0
    var server: LoopbackServer!

    func issueCode(forAuthorizationURL url: String) -> String {
        let items = Dictionary(uniqueKeysWithValues: (URLComponents(string: url)?.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        let code = "acme-code-\(UUID().uuidString)"
        lock.withLock { challenges[code] = (items["code_challenge"] ?? "", items["redirect_uri"] ?? "") }
        return code
    }

    /// Revokes every access token: the next call is refused with 401.
    func revokeAccessTokens() { lock.withLock { accessTokens.removeAll() } }

    /// Revokes the whole grant: access and refresh tokens.
    func revokeGrant() { lock.withLock { accessTokens.removeAll(); refreshTokens.removeAll() } }

    private func grant() -> [String: JSONValue] {
        lock.withLock {
            issued += 1
            let access = "acme-access-\(issued)", refresh = "acme-refresh-\(issued)"
            accessTokens.insert(access)
            refreshTokens.insert(refresh)
            return ["access_token": .string(access), "token_type": .string("Bearer"), "expires_in": .number(3600), "refresh_token": .string(refresh)]
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ value: JSONValue, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[HTTPField.Name("X-Acme-Request")!] = "acme-req-\(UUID().uuidString.prefix(8))"
        fields[HTTPField.Name("RateLimit-Remaining")!] = "100"
        fields[HTTPField.Name("RateLimit-Reset")!] = "\(Int(Date().timeIntervalSince1970) + 60)"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: value.jsonData())))
    }

    private static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String, param: String? = nil) -> Response {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let param { error["param"] = .string(param) }
        return json(status, .object(["error": .object(error)]))
    }

    private func authorized(_ request: Request) -> Bool {
        let token = request.headers[.authorization]?.replacingOccurrences(of: "Bearer ", with: "") ?? ""
        return lock.withLock { accessTokens.contains(token) }
    }

    func start() async throws {
        let router = Router()
        router.post("/oauth/token") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 1 << 16))
            let form = Dictionary(FormEncoding.decode(body), uniquingKeysWith: { first, _ in first })
            guard form["client_id"] == "acme-client", form["client_secret"] == "acme-secret" else {
                return Self.json(.unauthorized, .object(["error": .string("invalid_client")]))
            }
            switch form["grant_type"] {
            case "authorization_code":
                let expected = self.lock.withLock { self.challenges.removeValue(forKey: form["code"] ?? "") }
                guard let expected, let verifier = form["code_verifier"], PKCE.challenge(for: verifier) == expected.challenge,
                      form["redirect_uri"] == expected.redirect else {
                    return Self.json(.badRequest, .object(["error": .string("invalid_grant"), "error_description": .string("bad code or verifier")]))
                }
                return Self.json(.ok, .object(self.grant()))
            case "refresh_token":
                // Rotating refresh tokens: each works once.
                let known = self.lock.withLock { self.refreshTokens.remove(form["refresh_token"] ?? "") != nil }
                guard known else { return Self.json(.badRequest, .object(["error": .string("invalid_grant")])) }
                self.lock.withLock { self.refreshes += 1 }
                return Self.json(.ok, .object(self.grant()))
            default:
                return Self.json(.badRequest, .object(["error": .string("unsupported_grant_type")]))
            }
        }
        router.get("/v1/me") { request, _ -> Response in
            guard self.authorized(request) else { return Self.error(.unauthorized, "token_invalid", "The access token is not valid.") }
            return Self.json(.ok, .object(["user": .object(["id": .string("u1"), "email": .string("ada@acme.test")]),
                                           "account": .object(["id": .string("acme-42"), "name": .string("Acme Corp")])]))
        }
        router.get("/v1/tasks") { request, _ -> Response in
            guard self.authorized(request) else { return Self.error(.unauthorized, "token_invalid", "The access token is not valid.") }
            let query = request.uri.queryParameters
            let size = Int(query["per_page"].map(String.init) ?? "") ?? 2
            guard size <= 2 else { return Self.error(.badRequest, "per_page_too_large", "At most 2 a page.", param: "per_page") }
            self.lock.withLock { self.pageSizes.append("\(size)") }
            let all = self.lock.withLock { self.tasks }
            let start = query["cursor"].flatMap { cursor in all.firstIndex { $0["id"]?.stringValue == String(cursor) } }.map { $0 + 1 } ?? 0
            let page = Array(all[min(start, all.count)..<min(start + size, all.count)])
            let next: JSONValue = start + size < all.count ? (page.last?["id"] ?? .null) : .null
            return Self.json(.ok, .object(["items": .array(page.map(JSONValue.object)), "meta": .object(["next_cursor": next])]))
        }
        router.post("/v1/tasks") { request, _ -> Response in
            guard self.authorized(request) else { return Self.error(.unauthorized, "token_invalid", "The access token is not valid.") }
            let body = JSONValue.parse(Data(String(buffer: try await request.body.collect(upTo: 1 << 16)).utf8))?.objectValue ?? [:]
            guard let title = body["title"]?.stringValue, title.count <= 20 else {
                return Self.error(.unprocessableContent, "too_long", "must be at most 20 characters", param: "title")
            }
            let task: [String: JSONValue] = self.lock.withLock {
                let task: [String: JSONValue] = ["id": .string("t\(self.tasks.count + 1)"), "title": .string(title), "assignee_id": body["assignee_id"] ?? .null]
                self.tasks.append(task)
                return task
            }
            return Self.json(.created, .object(task))
        }
        server = try await LoopbackServer.start(router, label: "acme-tasks")
    }

    var definition: String {
        """
        {"name": "acme", "title": "Acme Tasks",
         "oauth": {"authorizationURL": "\(server.url("/authorize"))", "tokenURL": "\(server.url("/oauth/token"))", "exchangeStyle": "standard"},
         "api": {"baseURLs": {"global": "\(server.url(""))"}, "defaultRegion": "global"},
         "identity": {"method": "GET", "path": "/v1/me", "accountID": "account.id", "accountName": "account.name", "adminID": "user.id", "adminEmail": "user.email"},
         "errors": {"path": "error", "code": "code", "message": "message", "field": "param"},
         "requestID": {"header": "X-Acme-Request"},
         "rateLimit": {"limitPeriodSeconds": 60, "remainingHeader": "RateLimit-Remaining", "resetHeader": "RateLimit-Reset", "windowSeconds": 60},
         "paging": {"limitParameter": "limit", "cursorParameter": "cursor", "nextCursor": "meta.next_cursor", "maxPageSize": 2, "defaultLimit": 10}}
        """
    }

    static let catalog = """
        {"provider": "acme", "actions": [
          {"name": "acme.list_tasks", "title": "List tasks", "description": "Lists the account's tasks, oldest first.",
           "readOnly": true, "destructive": false, "idempotent": true, "paged": true,
           "input": {"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 100}}, "additionalProperties": false},
           "request": {"method": "GET", "path": "/v1/tasks", "query": {"per_page": "{{limit}}", "cursor": "{{cursor}}"}},
           "output": {"pick": "items"}, "message": "Here are the tasks."},
          {"name": "acme.create_task", "title": "Create a task", "description": "Creates a task, assigned to the connected user unless another is named.",
           "readOnly": false, "destructive": false, "idempotent": false, "inputDefaults": {"assignee_id": "account.adminID"},
           "input": {"type": "object", "properties": {"title": {"type": "string", "minLength": 1}, "assignee_id": {"type": "string"}},
                     "required": ["title"], "additionalProperties": false},
           "request": {"method": "POST", "path": "/v1/tasks", "body": {"title": "{{title}}", "assignee_id": "{{assignee_id}}"}},
           "output": {}, "message": "Task {{id}} is created: {{title}}."}
        ]}
        """
}

@Suite("A second provider, as data only")
struct SecondProviderTests {
    @Test("a standard OAuth 2.0 provider from two files: PKCE authorization, its identity, paging, its error envelope, refresh and 401, all through the same client and action service")
    func acme() async throws {
        let acme = AcmeTasks()
        try await acme.start()
        let registry = ProviderRegistry(ProviderRegistry.bundled.entries + [
            try ProviderRegistry.Entry(definition: Data(acme.definition.utf8), catalog: Data(AcmeTasks.catalog.utf8)),
        ])
        defer { Task { await acme.server.stop() } }
        try await Harness.with(systemApp: false, providers: registry) { harness, client in
            // The catalog lists both providers' actions.
            let catalog = try object(try await client.call(.get, "/v1/actions?limit=300", harness))
            let names = (catalog["data"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(names.contains("acme.list_tasks") && names.contains("intercom.create_ticket"))

            let created = try await client.call(.post, "/v1/auth-profiles", harness, json: """
                {"name":"Acme","clientId":"acme-client","clientSecret":"acme-secret","authorizationURL":"\(acme.server.url("/authorize"))",
                 "tokenURL":"\(acme.server.url("/oauth/token"))","pkce":true}
                """)
            #expect(created.status == .created, "\(text(created))")
            let profile = try object(created)
            #expect(profile["exchangeStyle"] as? String == "standard", "a token URL no definition names is RFC 6749's")
            let profileID = try #require(profile["id"] as? String)
            let made = try await client.call(.post, "/v1/integrations", harness, json: """
                {"name":"Tasks bot","provider":"acme","app":"custom","authProfileId":"\(profileID)","authorization":"preauthorized"}
                """)
            #expect(made.status == .created, "\(text(made))")
            let id = try #require(try object(made)["id"] as? String)
            let system = try await client.call(.post, "/v1/integrations", harness, json: """
                {"name":"x","provider":"acme","app":"system","authorization":"preauthorized"}
                """)
            #expect(system.status == .unprocessableContent, "the system app is Intercom's: \(text(system))")

            // Authorize: the provider's login, then the callback exchanges the code with the PKCE verifier.
            let url = try await harness.startAuthorization(client, integrationID: id)
            #expect(url.hasPrefix(acme.server.url("/authorize?")))
            let items = Dictionary(uniqueKeysWithValues: (URLComponents(string: url)?.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            #expect(items["response_type"] == "code" && items["code_challenge_method"] == "S256")
            let code = acme.issueCode(forAuthorizationURL: url)
            let page = try await harness.callback(client, "https://switchboard.test/oauth/callback/\(profileID)?code=\(code)&state=\(items["state"]!)")
            #expect(page.status == .ok, "\(text(page))")
            let connection = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: ""))
            #expect(connection.account.id == "acme-42" && connection.account.name == "Acme Corp" && connection.account.adminID == "u1",
                    "identified where the definition says")
            let enabled = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
            #expect(enabled.status == .ok, "enabling checks the connection with the provider's identity call: \(text(enabled))")

            // A write: the input default comes from the account, the message from the catalog, the request id from the header.
            let task = try await client.call(.post, "/v1/integrations/\(id)/actions/acme.create_task", harness, json: #"{"input":{"title":"Call Ada back"}}"#)
            #expect(task.status == .ok, "\(text(task))")
            let answer = try object(task)
            #expect(answer["message"] as? String == "Task t6 is created: Call Ada back.")
            #expect((answer["result"] as? [String: Any])?["assignee_id"] as? String == "u1")
            #expect((answer["intercomRequestId"] as? String)?.hasPrefix("acme-req-") == true)

            // A paged read: pages of at most 2, following meta.next_cursor until the limit.
            let listed = try object(try await client.call(.post, "/v1/integrations/\(id)/actions/acme.list_tasks", harness, json: #"{"input":{"limit":5}}"#))
            #expect((listed["result"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == ["t1", "t2", "t3", "t4", "t5"])
            #expect(acme.pageSizes == ["2", "2", "1"])

            // The provider's own error envelope names the field.
            let refused = try await client.call(.post, "/v1/integrations/\(id)/actions/acme.create_task", harness,
                                                json: #"{"input":{"title":"A title far too long for Acme"}}"#)
            #expect(refused.status == .unprocessableContent)
            let problem = try object(refused)
            #expect(problem["code"] as? String == "provider_rejected" && problem["field"] as? String == "title", "\(problem)")
            #expect((problem["detail"] as? String)?.contains("Acme Tasks answered 422: title: must be at most 20 characters") == true, "\(problem)")

            // An hour on, the token is due: one refresh with the rotating refresh token, and the call goes through.
            harness.clock.advance(by: 3600)
            let later = try await client.call(.post, "/v1/integrations/\(id)/actions/acme.list_tasks", harness, json: #"{"input":{"limit":1}}"#)
            #expect(later.status == .ok, "\(text(later))")
            #expect(acme.refreshes == 1)

            // A refused token that can be refreshed is: the call is repeated once with the new token.
            acme.revokeAccessTokens()
            let refreshed = try await client.call(.post, "/v1/integrations/\(id)/actions/acme.list_tasks", harness, json: #"{"input":{"limit":1}}"#)
            #expect(refreshed.status == .ok, "\(text(refreshed))")
            #expect(acme.refreshes == 2)

            // A refused token whose refresh is refused too (invalid_grant) marks the connection; the answer says to authorize again.
            acme.revokeGrant()
            let dead = try await client.call(.post, "/v1/integrations/\(id)/actions/acme.list_tasks", harness, json: #"{"input":{}}"#)
            #expect(dead.status == .conflict)
            #expect(try object(dead)["code"] as? String == "reauthorization_required")
            #expect((try object(dead)["detail"] as? String)?.contains("invalid_grant") == true, "\(text(dead))")
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "")?.status == .needsReauthorization)
        }
    }
}
