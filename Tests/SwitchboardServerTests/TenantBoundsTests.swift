import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SQLKit
import SwitchboardCore
import SwitchboardServer
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// What one agent token, one connect link or one workspace may hold of what every tenant shares (issue: no tenant,
/// token or link holder can starve the others).
@Suite("Tenant bounds")
struct TenantBoundsTests {
    func rows(_ harness: Harness, _ table: String) async throws -> Int {
        try await harness.store.database.read { db in try await db.select().column("id").from(table).all().count }
    }

    /// An MCP client with a session whose client declared URL elicitation, for an end user who has not connected.
    func elicitingSession(_ harness: Harness, _ client: any TestClientProtocol, user: String = "user-a") async throws -> (MCPClient, String) {
        let id = try await harness.perUserIntegration(client)
        _ = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
        var mcp = MCPClient(harness: harness, client: client, token: try await agentToken(harness, client, id, #"{"name":"agent","userId":"\#(user)"}"#))
        mcp.session = try await open(mcp)
        return (mcp, id)
    }

    func open(_ mcp: MCPClient) async throws -> String {
        var fresh = mcp
        fresh.session = nil
        let opened = try await fresh.post("initialize", #"{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"t","version":"1"}}"#)
        return try #require(opened.headers[MCPClient.sessionHeader], "\(text(opened))")
    }

    @Test("many calls for one unconnected user leave one pending elicitation and one open connect link, answered with the same id and URL")
    func oneElicitationPerUser() async throws {
        try await Harness.with { harness, client in
            let (mcp, _) = try await elicitingSession(harness, client)
            var seen: Set<String> = []
            for _ in 0..<60 {
                let refused = try object(try await mcp.post("tools/call", #"{"name":"intercom_who_am_i","arguments":{}}"#))
                let elicitation = try #require(((((refused["error"] as? [String: Any])?["data"] as? [String: Any])?["elicitations"]) as? [[String: Any]])?.first,
                                               "\(refused)")
                seen.insert("\(elicitation["elicitationId"] ?? "") \(elicitation["url"] ?? "")")
            }
            #expect(seen.count == 1, "\(seen)")
            #expect(try await rows(harness, "mcp_elicitations") == 1)
            #expect(try await rows(harness, "connect_links") == 1)
        }
    }

    @Test("one stream per session and at most four per token; a revoked token's stream ends at its next poll, a second on")
    func streams() async throws {
        try await Harness.with(clockAdvancesWhenSleeping: false) { harness, client in
            let (mcp, id) = try await elicitingSession(harness, client)
            let ended = Counter()
            func stream(_ session: String) -> Task<HTTPResponse.Status, any Error> {
                var on = mcp
                on.session = session
                let headers = on.headers()
                return Task {
                    let answer = try await client.execute(uri: "/mcp", method: .get, headers: headers, body: nil)
                    _ = ended.next()
                    return answer.status
                }
            }
            func streaming() async throws -> Int {
                try await harness.store.database.read { db in
                    try await db.select().column("id").from("mcp_sessions").where("stream_until", .isNot, SQLLiteral.null).all().count
                }
            }
            /// A GET that must be refused at once: a stream opened instead would never end here (the clock stands
            /// still), so its answer is awaited within a bound.
            func refused(_ session: String) async throws -> TestResponse {
                var on = mcp
                on.session = session
                let headers = on.headers()
                let answer = Task { try await client.execute(uri: "/mcp", method: .get, headers: headers, body: nil) }
                let done = Counter()
                Task { _ = try? await answer.value; _ = done.next() }
                try await eventually("GET /mcp on \(session) to be refused rather than streamed", within: .seconds(5)) { done.value == 1 }
                return try await answer.value
            }
            let first = stream(try #require(mcp.session))
            try await eventually("the first stream to hold its session") { try await streaming() == 1 }
            try expectProblem(try await refused(try #require(mcp.session)), 409, code: "mcp_stream_open")

            // Three more sessions stream; a fifth is refused.
            var others: [Task<HTTPResponse.Status, any Error>] = []
            for _ in 0..<3 { others.append(stream(try await open(mcp))) }
            try await eventually("four streams open") { try await streaming() == 4 }
            try expectProblem(try await refused(try await open(mcp)), 429, code: "mcp_stream_limit")

            // Revoking the token ends its sessions; every stream sees it at its next poll.
            let tokens = try object(try await client.call(.get, "/v1/integrations/\(id)/agent-tokens", harness))
            let tokenID = try #require((tokens["data"] as? [[String: Any]])?.first?["id"] as? String)
            #expect(try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/\(tokenID)", harness).status == .ok)
            #expect(try await rows(harness, "mcp_sessions") == 0, "its sessions ended with it")
            #expect(await harness.clock.waitForSleepers(4), "the four streams wait for their next poll")
            harness.clock.advance(by: 1)
            try await eventually("the four streams to end", within: .seconds(10)) { ended.value == 4 }
            #expect(try await first.value == .ok)
            for other in others { #expect(try await other.value == .ok) }
        }
    }

    @Test("one user's calls hand out their one open link again: they cannot use up the workspace's links, and another user still gets one")
    func oneOpenLinkPerUser() async throws {
        try await Harness.with(configure: { settings, _ in settings.limits.openConnectLinks = 3 }) { harness, client in
            let id = try await harness.perUserIntegration(client)
            var urls: Set<String> = []
            for _ in 0..<20 { urls.insert(try await harness.connectLink(client, id, user: "user-a")) }
            #expect(urls.count == 1)
            #expect(try await rows(harness, "connect_links") == 1)
            let other = try await harness.connectLink(client, id, user: "user-b")
            #expect(!urls.contains(other), "another user gets a link of their own, within the workspace's limit")
            // A link closer to its end than two minutes gives way to a new one.
            harness.clock.advance(by: harness.settings.connectLinkLifetime - 60)
            let renewed = try await harness.connectLink(client, id, user: "user-a")
            #expect(!urls.contains(renewed))
        }
    }

    @Test("a connect link starts at most ten authorizations; the eleventh press is refused and stores nothing")
    func authorizationsPerLink() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            let browser = EndUserBrowser(harness: harness, client: client)
            for _ in 0..<10 { _ = try await browser.press(url) }
            let refused = try await client.execute(uri: try browser.path(url), method: .post, headers: sameOriginForm)
            #expect(refused.status == .tooManyRequests, "\(text(refused))")
            #expect(text(refused).contains("Ask the assistant for a new link"))
            #expect(try await rows(harness, "authorization_requests") == 10)
            #expect(try await harness.connectLink(client, id, user: "user-a") != url, "a link pressed ten times gives way to a new one")
        }
    }

    @Test("the public browser forms refuse a post from another site, and do nothing")
    func crossSiteForms() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            let url = try await harness.connectLink(client, id, user: "user-a")
            let browser = EndUserBrowser(harness: harness, client: client)
            let foreign: [HTTPFields] = [[.origin: "https://evil.test"], [.origin: "null", HTTPField.Name("Sec-Fetch-Site")!: "cross-site"], [:]]
            for headers in foreign {
                let pressed = try await client.execute(uri: try browser.path(url), method: .post, headers: headers)
                #expect(pressed.status == .forbidden, "\(headers): \(text(pressed))")
                #expect(try await client.execute(uri: try browser.path(url) + "/disconnect", method: .post, headers: headers).status == .forbidden)
            }
            #expect(try await rows(harness, "authorization_requests") == 0)

            let shared = try await harness.createIntegration(client)
            let started = try object(try await client.call(.post, "/v1/integrations/\(shared)/authorize", harness))
            let startURL = try #require(started["authorizationURL"] as? String)
            let start = try #require(URLComponents(string: startURL))
            let forged = try await client.execute(uri: start.path, method: .post, headers: [.origin: "https://evil.test"])
            #expect(forged.status == .forbidden)
            #expect(try await client.execute(uri: start.path, method: .post, headers: sameOriginForm).status == .seeOther, "the real page's button still works")
        }
    }
}
