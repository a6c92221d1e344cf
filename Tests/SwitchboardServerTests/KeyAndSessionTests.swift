import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import SQLKit
import Testing

@Suite("Admin API keys and console sessions")
struct KeyAndSessionTests {
    @Test("a revoked key answers 401 at once, the one-second cache included, and its console sessions end")
    func revokedKey() async throws {
        try await Harness.with { harness, client in
            let key = AdminAPIKey.generate()
            let id = try await harness.store.workspaces.addAPIKey(workspaceID: harness.workspace.id, key: key, name: "bot", now: harness.clock.now())
            var browser = ConsoleBrowser(client: client)
            #expect(try await browser.signIn(key).status == .seeOther)
            #expect(try await browser.get("/console/integrations").status == .ok)
            #expect(try await client.call(.get, "/v1/integrations", harness, key: key).status == .ok, "the key is now in the read cache")

            let revoked = try #require(try await harness.store.workspaces.revokeAPIKey(id: id, now: harness.clock.now()))
            #expect(revoked.status(at: harness.clock.now()) == .revoked)
            try expectProblem(try await client.call(.get, "/v1/integrations", harness, key: key), 401, code: "invalid_api_key")
            #expect(try await browser.get("/console/integrations").headers[.location] == "/console", "its console session ended")
            #expect(try await browser.signIn(key).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/integrations", harness).status == .ok, "other keys work on")
            let sessions = try await harness.store.database.read { db in
                try await db.select().column("id").from("console_sessions").where("key_id", .equal, id).all().count
            }
            #expect(sessions == 0)
        }
    }

    @Test("an expired key answers 401 from the moment it expires, though it was cached a moment before")
    func expiredKey() async throws {
        try await Harness.with { harness, client in
            let key = AdminAPIKey.generate()
            let now = harness.clock.now()
            try await harness.store.workspaces.addAPIKey(workspaceID: harness.workspace.id, key: key, expiresAt: now.addingTimeInterval(600), now: now)
            var browser = ConsoleBrowser(client: client)
            #expect(try await browser.signIn(key).status == .seeOther)
            #expect(try await client.call(.get, "/v1/integrations", harness, key: key).status == .ok)
            harness.clock.advance(by: 600)
            try expectProblem(try await client.call(.get, "/v1/integrations", harness, key: key), 401, code: "invalid_api_key")
            #expect(try await browser.get("/console/integrations").headers[.location] == "/console")
        }
    }

    func lastUsed(_ harness: Harness) async throws -> Int64? {
        try await harness.store.workspaces.apiKeys(workspaceID: harness.workspace.id).first?.lastUsedAt.map { Int64($0.timeIntervalSince1970) }
    }

    @Test("last use is recorded, at most once a minute per key")
    func lastUse() async throws {
        try await Harness.with { harness, client in
            let before = try await lastUsed(harness)
            #expect(before == nil)
            let first = harness.clock.now()
            #expect(try await client.call(.get, "/v1/integrations", harness).status == .ok)
            #expect(try await lastUsed(harness) == Int64(first.timeIntervalSince1970))
            harness.clock.advance(by: 30)
            #expect(try await client.call(.get, "/v1/integrations", harness).status == .ok)
            #expect(try await lastUsed(harness) == Int64(first.timeIntervalSince1970), "not written again within the minute")
            harness.clock.advance(by: 31)
            #expect(try await client.call(.get, "/v1/integrations", harness).status == .ok)
            #expect(try await lastUsed(harness) == Int64(harness.clock.now().timeIntervalSince1970))
        }
    }

    @Test("sign-in from another site is refused: no session, no cookie")
    func signInOrigin() async throws {
        try await Harness.with { harness, client in
            for origin in [nil, "https://attacker.example", "http://switchboard.test", "https://switchboard.test.attacker.example"] {
                var browser = ConsoleBrowser(client: client)
                let response = try await browser.signIn(harness.apiKey, origin: origin)
                #expect(response.status == .forbidden, "\(origin ?? "no origin")")
                #expect(response.headers[.setCookie] == nil && browser.cookie == nil)
            }
            // Pages are served with Referrer-Policy: no-referrer, so browsers post `Origin: null`: then only
            // `Sec-Fetch-Site: same-origin` (which no page can set) will do.
            for (site, expected) in [("same-origin", HTTPResponse.Status.seeOther), ("cross-site", .forbidden), ("same-site", .forbidden)] {
                let posted = try await client.execute(uri: "/console/login", method: .post,
                    headers: [.contentType: "application/x-www-form-urlencoded", .origin: "null", HTTPField.Name("Sec-Fetch-Site")!: site],
                    body: ByteBuffer(string: FormEncoding.encode([("apiKey", harness.apiKey)])))
                #expect(posted.status == expected, "\(site)")
            }
            let nullOnly = try await client.execute(uri: "/console/login", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .origin: "null", .referer: "https://switchboard.test/console"],
                body: ByteBuffer(string: FormEncoding.encode([("apiKey", harness.apiKey)])))
            #expect(nullOnly.status == .forbidden, "Origin: null is never taken for the console's")
            // Without Origin, a Referer from the console's own page will do (some browsers omit Origin).
            let referred = try await client.execute(uri: "/console/login", method: .post,
                headers: [.contentType: "application/x-www-form-urlencoded", .referer: "https://switchboard.test/console"],
                body: ByteBuffer(string: FormEncoding.encode([("apiKey", harness.apiKey)])))
            #expect(referred.status == .seeOther)
            let sessions = try await harness.store.database.read { db in try await db.select().column("id").from("console_sessions").all().count }
            #expect(sessions == 2)
        }
    }

    @Test("notices come from a fixed set of codes: text in the query string is never shown")
    func fixedNotices() async throws {
        try await Harness.with { harness, client in
            let phishing = "Your+key+has+leaked.+Call+Zorblax+now"
            let page = text(try await client.execute(uri: "/console?notice=\(phishing)&error=\(phishing)", method: .get))
            #expect(!page.contains("leaked") && !page.contains("Zorblax"))
            #expect(text(try await client.execute(uri: "/console?notice=signed_out", method: .get)).contains("Signed out."))
            var browser = ConsoleBrowser(client: client)
            #expect(try await browser.signIn(harness.apiKey).status == .seeOther)
            let id = try await harness.createIntegration(client)
            let shown = text(try await browser.get("/console/integrations/\(id)?notice=\(phishing)&error=\(phishing)"))
            #expect(!shown.contains("leaked") && !shown.contains("Zorblax"))
        }
    }

    @Test("sign-out ends the session where it is kept: a copy of the cookie works no more")
    func signOut() async throws {
        try await Harness.with { harness, client in
            var browser = ConsoleBrowser(client: client)
            #expect(try await browser.signIn(harness.apiKey).status == .seeOther)
            let copy = browser
            let out = try await browser.post("/console/logout", [])
            #expect(out.status == .seeOther && out.headers[.location] == "/console?notice=signed_out")
            #expect(try await copy.get("/console/integrations").headers[.location] == "/console")
        }
    }
}

@Suite("Workspace bounds")
struct WorkspaceBoundsTests {
    @Test("open connect links, kept calls and idempotency records are capped per workspace with a clear 429; the connections list is paged")
    func caps() async throws {
        try await Harness.with(configure: { settings, _ in
            settings.limits.openConnectLinks = 3
            settings.limits.keptCalls = 1
            settings.limits.idempotencyRecords = 2
        }) { harness, client in
            let created = try object(try await client.call(.post, "/v1/integrations", harness,
                json: #"{"name":"Bot","app":"system","authorization":"per_user","notifyURL":"https://assistant.example/events"}"#))
            let id = try #require(created["id"] as? String)
            #expect(try await client.call(.post, "/v1/integrations/\(id)/enable", harness).status == .ok)
            let kept = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.who_am_i", harness,
                                             json: #"{"input":{},"user":{"id":"u0"},"resume":true}"#)
            #expect(kept.status == .conflict, "\(text(kept))")
            let second = try await client.call(.post, "/v1/integrations/\(id)/actions/intercom.who_am_i", harness,
                                               json: #"{"input":{},"user":{"id":"u1"},"resume":true}"#)
            let refused = try expectProblem(second, 429, code: "workspace_limit_reached")
            #expect(refused["limit"] as? Int == 1 && (refused["detail"] as? String)?.contains("kept calls") == true)
            #expect(try await harness.run(client, id, "intercom.who_am_i", "{}", user: "u2").status == .conflict, "a link without a kept call")
            #expect(try await harness.run(client, id, "intercom.who_am_i", "{}", user: "u3").status == .conflict)
            let links = try expectProblem(try await harness.run(client, id, "intercom.who_am_i", "{}", user: "u4"), 429, code: "workspace_limit_reached")
            #expect((links["detail"] as? String)?.contains("open connect links") == true)

            let shared = try await harness.enabledIntegration(client)
            func create(_ n: Int) async throws -> TestResponse {
                try await client.call(.post, "/v1/integrations/\(shared)/actions/intercom.create_contact", harness,
                                      json: "{\"input\":{\"email\":\"cap\(n)@example.com\"},\"idempotencyKey\":\"k\(n)\"}")
            }
            for n in 0..<2 { #expect(try await create(n).status == .ok) }
            try expectProblem(try await create(9), 429, code: "workspace_limit_reached")
        }
    }

    @Test("connections are listed newest first, a page at a time")
    func pagedConnections() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            for user in ["a", "b", "c"] {
                let url = try await harness.connectLink(client, id, user: user)
                #expect(try await EndUserBrowser(harness: harness, client: client).connect(url).status == .ok)
                harness.clock.advance(by: 1)
            }
            let first = try object(try await client.call(.get, "/v1/integrations/\(id)/connections?limit=2", harness))
            #expect((first["data"] as? [[String: Any]])?.map { $0["userId"] as? String } == ["c", "b"])
            let next = try #require(first["next"] as? String)
            let second = try object(try await client.call(.get, "/v1/integrations/\(id)/connections?limit=2&starting_after=\(next)", harness))
            #expect((second["data"] as? [[String: Any]])?.map { $0["userId"] as? String } == ["a"] && second["next"] == nil)
        }
    }
}
