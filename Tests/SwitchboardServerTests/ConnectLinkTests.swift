import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IntercomSandbox
import NIOCore
import SwitchboardCore
import SQLKit
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// An end user's browser: the connect page, its button, the sandbox's login and consent, and the callback.
struct EndUserBrowser {
    let harness: Harness
    let client: any TestClientProtocol

    /// The path of a connect URL (the harness's public URL is not served; the router is called directly).
    func path(_ url: String) throws -> String {
        let components = try #require(URLComponents(string: url))
        return components.path
    }

    func open(_ url: String) async throws -> TestResponse {
        try await client.execute(uri: try path(url), method: .get)
    }

    /// Presses the button: the provider URL and the binding cookie (`name=value`).
    func press(_ url: String) async throws -> (location: String, cookie: String) {
        let response = try await client.execute(uri: try path(url), method: .post, headers: sameOriginForm)
        #expect(response.status == .seeOther, "\(text(response))")
        let setCookie = try #require(response.headers[.setCookie])
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && setCookie.contains("Path=/oauth/callback"))
        return (try #require(response.headers[.location]), String(setCookie.split(separator: ";")[0]))
    }

    func callback(_ location: String, cookie: String?) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        return try await client.execute(uri: try callbackURI(location), method: .get, headers: headers)
    }

    /// The whole walk, as `email` in the sandbox; returns the callback's page.
    func connect(_ url: String, as email: String = "ada@acme.test") async throws -> TestResponse {
        let page = try await open(url)
        #expect(page.status == .ok, "\(text(page))")
        let (location, cookie) = try await press(url)
        let back = try await SandboxBrowser.authorize(location, email: email)
        return try await callback(back, cookie: cookie)
    }
}

extension Harness {
    func perUserIntegration(_ client: any TestClientProtocol) async throws -> String {
        let id = try await createIntegration(client, authorization: "per_user")
        #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", self).status == .ok)
        return id
    }

    func run(_ client: any TestClientProtocol, _ integration: String, _ action: String, _ input: String, user: String, conversation: String = "conv-1") async throws -> TestResponse {
        try await client.call(.post, "/v1/integrations/\(integration)/actions/\(action)", self,
                              json: "{\"input\":\(input),\"user\":{\"id\":\"\(user)\",\"conversationId\":\"\(conversation)\"}}")
    }

    /// Runs `who_am_i` as `user` and expects `authorization_required`; returns the connect URL.
    func connectLink(_ client: any TestClientProtocol, _ integration: String, user: String, reason: String = "connect",
                     sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let response = try await run(client, integration, "intercom.who_am_i", "{}", user: user)
        let problem = try expectProblem(response, 409, code: "authorization_required", sourceLocation: sourceLocation)
        #expect(problem["reason"] as? String == reason, sourceLocation: sourceLocation)
        #expect(problem["userId"] as? String == user, sourceLocation: sourceLocation)
        return try #require(problem["authorizationURL"] as? String, sourceLocation: sourceLocation)
    }
}

@Suite("Connect links: end users authorize during the conversation")
struct ConnectLinkTests {
    @Test("user A gets a connect link, connects, and acts with A's token; user B still gets authorization_required")
    func perUserFlow() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let response = try await harness.run(client, id, "intercom.create_ticket", #"{"ticket_type_id":"1","email":"a@example.com","title":"Help"}"#, user: "user-a")
            let problem = try expectProblem(response, 409, code: "authorization_required")
            let url = try #require(problem["authorizationURL"] as? String)
            #expect(url.hasPrefix("https://switchboard.test/connect/"))
            let token = String(url.split(separator: "/").last ?? "")
            #expect(token.count == 43, "256 random bits, base64url")
            #expect(problem["message"] as? String == "To do that I need access to your Intercom account. Please connect it here: \(url)")
            #expect(problem["pendingActionId"] == nil, "nothing is kept without resume")
            let expiresAt = try #require((problem["expiresAt"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expiresAt.timeIntervalSince(harness.clock.now()) - 15 * 60) < 2, "15 minutes by default")
            // Only the hash of the token is stored.
            let stored = try #require(try await harness.store.authorizations.connectLink(token: token))
            #expect(stored.endUserID == "user-a" && stored.conversationID == "conv-1")
            #expect(stored.tokenHash != token)

            let browser = EndUserBrowser(harness: harness, client: client)
            let page = try await browser.open(url)
            #expect(text(page).contains("Connect your Intercom account to Support bot"))
            let done = try await browser.connect(url)
            #expect(done.status == .ok, "\(text(done))")
            #expect(text(done).contains("You&#39;re connected") && text(done).contains("You can return to the conversation."))

            #expect(try await harness.run(client, id, "intercom.create_contact", #"{"email":"a@example.com"}"#, user: "user-a").status == .ok)
            let ticket = try await harness.run(client, id, "intercom.create_ticket", #"{"ticket_type_id":"1","email":"a@example.com","title":"Help"}"#, user: "user-a")
            #expect(ticket.status == .ok, "\(text(ticket))")
            let connection = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a"))
            #expect(connection.account.adminEmail == "ada@acme.test")

            _ = try await harness.connectLink(client, id, user: "user-b")
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-b") == nil)
            // Assistants that poll see the same.
            let polled = try object(try await client.call(.get, "/v1/integrations/\(id)/connections/user-a", harness))
            #expect(polled["status"] as? String == "active")
            #expect(!text(try await client.call(.get, "/v1/integrations/\(id)/connections/user-a", harness)).contains(connection.tokens.accessToken))
            try expectProblem(try await client.call(.get, "/v1/integrations/\(id)/connections/user-b", harness), 404, code: "not_found")
            // The link is used up: it cannot start another authorization; while it lasts, its page offers to disconnect.
            let again = try await browser.open(url)
            #expect(again.status == .ok && text(again).contains("Your Intercom account is connected to Support bot") && text(again).contains("Disconnect"))
            let pressedAgain = try await client.execute(uri: try browser.path(url), method: .post, headers: sameOriginForm)
            #expect(pressedAgain.status == .gone && text(pressedAgain).contains("already used"))
            // Neither the link's token nor the user's Intercom token reached the log.
            #expect(harness.logs.text.contains("/connect/"), "the link's requests were logged")
            #expect(!harness.logs.text.contains(token))
            #expect(!harness.logs.text.contains(connection.tokens.accessToken))
        }
    }

    @Test("an expired link, a used link and a tampered token show a clear page and store nothing")
    func badLinks() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let browser = EndUserBrowser(harness: harness, client: client)
            let url = try await harness.connectLink(client, id, user: "user-a")

            var tampered = url
            tampered.replaceSubrange(tampered.index(before: tampered.endIndex)..., with: url.hasSuffix("A") ? "B" : "A")
            let forged = try await browser.open(tampered)
            #expect(forged.status == .notFound && text(forged).contains("This link is not valid"))
            #expect(try await client.execute(uri: try browser.path(tampered), method: .post, headers: sameOriginForm).status == .notFound)
            #expect(try await browser.open("https://switchboard.test/connect/short").status == .notFound)

            harness.clock.advance(by: 15 * 60 + 1)
            let expired = try await browser.open(url)
            #expect(expired.status == .gone && text(expired).contains("This link has expired"))
            #expect(try await client.execute(uri: try browser.path(url), method: .post, headers: sameOriginForm).status == .gone)
            #expect(try await harness.store.connections.connections(integrationID: id, workspaceID: harness.workspace.id).isEmpty)
        }
    }

    @Test("the callback must come back to the browser that pressed the button: another link's state is refused, and not used up")
    func browserBinding() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let browser = EndUserBrowser(harness: harness, client: client)
            let linkA = try await harness.connectLink(client, id, user: "user-a")
            let linkB = try await harness.connectLink(client, id, user: "user-b")
            let (_, cookieA) = try await browser.press(linkA)
            let (locationB, cookieB) = try await browser.press(linkB)
            let callbackB = try await SandboxBrowser.authorize(locationB, email: "ada@acme.test")

            // B's state arriving in A's browser (or with no cookie) is refused.
            for cookie in [cookieA, nil] {
                let refused = try await browser.callback(callbackB, cookie: cookie)
                #expect(refused.status == .badRequest && text(refused).contains("started in another browser"))
            }
            #expect(try await harness.store.connections.connections(integrationID: id, workspaceID: harness.workspace.id).isEmpty)
            // B's own browser still completes it, once; the code cannot be replayed.
            #expect(try await browser.callback(callbackB, cookie: cookieB).status == .ok)
            let replay = try await browser.callback(callbackB, cookie: cookieB)
            #expect(replay.status == .badRequest && text(replay).contains("already used"))
            let connections = try await harness.store.connections.connections(integrationID: id, workspaceID: harness.workspace.id)
            #expect(connections.map(\.endUserID) == ["user-b"])
        }
    }

    @Test("one link pressed twice, and both authorizations completed: the first connects, the second stores nothing")
    func linkUsedOnce() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let browser = EndUserBrowser(harness: harness, client: client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            let (first, firstCookie) = try await browser.press(url)
            let (second, secondCookie) = try await browser.press(url)
            let firstBack = try await SandboxBrowser.authorize(first, email: "ada@acme.test")
            let secondBack = try await SandboxBrowser.authorize(second, email: "bea@globex.test")
            #expect(try await browser.callback(firstBack, cookie: firstCookie).status == .ok)
            let late = try await browser.callback(secondBack, cookie: secondCookie)
            #expect(late.status == .gone && text(late).contains("This link was already used"), "\(text(late))")
            let connection = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a"))
            #expect(connection.account.adminEmail == "ada@acme.test", "the second authorization did not replace the first")
        }
    }

    @Test("A's link completed by someone signed in as another Intercom admin makes A's connection only; B never uses it")
    func forwardedLinkStaysA() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let browser = EndUserBrowser(harness: harness, client: client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            #expect(try await browser.connect(url, as: "bea@globex.test").status == .ok)
            let connections = try await harness.store.connections.connections(integrationID: id, workspaceID: harness.workspace.id)
            #expect(connections.map(\.endUserID) == ["user-a"])
            #expect(connections.first?.account.adminEmail == "bea@globex.test")
            let me = try object(try await harness.run(client, id, "intercom.who_am_i", "{}", user: "user-a"))
            #expect((me["message"] as? String)?.contains("bea@globex.test") == true)
            _ = try await harness.connectLink(client, id, user: "user-b")
        }
    }

    @Test("when Intercom refuses a user's token, the answer is a new link with the re-authorization message; reconnecting replaces the connection")
    func reauthorization() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let browser = EndUserBrowser(harness: harness, client: client)
            #expect(try await browser.connect(try await harness.connectLink(client, id, user: "user-a")).status == .ok)
            let first = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a"))
            #expect(await harness.sandbox.state.revoke(token: first.tokens.accessToken))

            let response = try await harness.run(client, id, "intercom.who_am_i", "{}", user: "user-a")
            let problem = try expectProblem(response, 409, code: "authorization_required")
            let url = try #require(problem["authorizationURL"] as? String)
            #expect(problem["message"] as? String == "Intercom refused the stored authorization; please connect again: \(url)")
            #expect(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a")?.status == .needsReauthorization)
            // Asking again while it needs re-authorization gives a reauthorize link without calling Intercom.
            _ = try await harness.connectLink(client, id, user: "user-a", reason: "reauthorize")

            #expect(try await browser.connect(url).status == .ok)
            let second = try #require(try await harness.store.connections.connection(integrationID: id, endUserID: "user-a"))
            #expect(second.id == first.id && second.status == .active, "replaced in place, not a second connection")
            #expect(try await harness.run(client, id, "intercom.who_am_i", "{}", user: "user-a").status == .ok)
        }
    }

    @Test("bad user input on a per-user integration names its field, and no link is made", arguments: [
        (#"{"input":{},"user":{"id":""}}"#, "user.id"),
        (#"{"input":{},"user":"u1"}"#, "user"),
        ("{\"input\":{},\"user\":{\"id\":\"u1\",\"conversationId\":\"\(String(repeating: "c", count: 201))\"}}", "user.conversationId"),
        (#"{"input":{},"user":{"id":"u1","email":"u1@example.com"}}"#, "user.email"),
    ])
    func badUserInput(body: String, field: String) async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let response = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.who_am_i", harness, json: body)
            try expectProblem(response, 422, code: "validation_failed", field: field)
            let links = try await harness.store.database.read { db in try await db.select().column("id").from("connect_links").all().count }
            #expect(links == 0)
        }
    }

    @Test("a per-user integration called without user.id is 409 user_required naming the field; no link is made")
    func userRequired() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let response = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.who_am_i", harness, json: #"{"input":{}}"#)
            try expectProblem(response, 409, code: "user_required", field: "user.id")
            let links = try await harness.store.database.read { db in try await db.select().column("id").from("connect_links").all().count }
            #expect(links == 0)
        }
    }

    @Test("a custom authorization profile works in per-user mode too: the link authorizes with the profile's own app")
    func customProfilePerUser() async throws {
        try await Harness.with(systemApp: false) { harness, client in
            let (profileID, app) = try await harness.sandboxProfile(client)
            let id = try await harness.createIntegration(client, app: "custom", profileID: profileID, authorization: "per_user")
            #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", harness).status == .ok)
            let browser = EndUserBrowser(harness: harness, client: client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            let (location, cookie) = try await browser.press(url)
            #expect(URLComponents(string: location)?.queryItems?.first { $0.name == "client_id" }?.value == app.clientID)
            #expect(try await browser.callback(try await SandboxBrowser.authorize(location), cookie: cookie).status == .ok)
            #expect(try await harness.run(client, id, "intercom.who_am_i", "{}", user: "user-a").status == .ok)
        }
    }

    @Test("a pre-authorized integration never hands out connect links")
    func preauthorizedHasNoLinks() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.createIntegration(client)
            let response = try await harness.run(client, id, "intercom.who_am_i", "{}", user: "user-a")
            let problem = try expectProblem(response, 409, code: "integration_not_enabled")
            #expect(problem["authorizationURL"] == nil)
        }
    }
}
