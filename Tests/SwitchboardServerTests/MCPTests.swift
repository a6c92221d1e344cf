import Foundation
import Providers
import HTTPTypes
import HummingbirdTesting
import NIOCore
import SwitchboardCore
import SwitchboardStore
import SwitchboardTestSupport
import Testing

/// An MCP client's requests to `/mcp`, as JSON-RPC over streamable HTTP (stateless: every request stands alone).
struct MCPClient {
    let harness: Harness
    let client: any TestClientProtocol
    let token: String
    var user: String? = nil
    var session: String? = nil

    static let sessionHeader = HTTPField.Name("Mcp-Session-Id")!

    func headers(token: String? = nil) -> HTTPFields {
        var headers: HTTPFields = [.contentType: "application/json", .accept: "application/json, text/event-stream",
                                   HTTPField.Name("MCP-Protocol-Version")!: "2025-11-25"]
        headers[.authorization] = "Bearer \(token ?? self.token)"
        if let user { headers[HTTPField.Name("Switchboard-User-Id")!] = user }
        if let session { headers[Self.sessionHeader] = session }
        return headers
    }

    func post(_ method: String, _ params: String = "{}", id: Int = 1, token: String? = nil) async throws -> TestResponse {
        let headers = self.headers(token: token)
        return try await client.execute(uri: "/mcp", method: .post, headers: headers,
                                        body: ByteBuffer(string: #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#))
    }

    func result(_ method: String, _ params: String = "{}") async throws -> [String: Any] {
        let response = try await post(method, params)
        #expect(response.status == .ok, "\(text(response))")
        let body = try object(response)
        #expect(body["error"] == nil, "\(body)")
        return try #require(body["result"] as? [String: Any], "\(body)")
    }

    func call(_ tool: String, _ arguments: String) async throws -> [String: Any] {
        try await result("tools/call", #"{"name":"\#(tool)","arguments":\#(arguments)}"#)
    }
}

/// Makes an agent token through the admin API; the token, shown this once.
func agentToken(_ harness: Harness, _ client: any TestClientProtocol, _ id: String, _ json: String = #"{"name":"agent"}"#) async throws -> String {
    let made = try await client.call(.post, "/v1/integrations/\(id)/agent-tokens", harness, json: json)
    #expect(made.status == .created, "\(text(made))")
    return try #require(try object(made)["token"] as? String)
}

func toolText(_ result: [String: Any]) -> String {
    ((result["content"] as? [[String: Any]])?.first?["text"] as? String) ?? ""
}

@Suite("MCP over HTTP")
struct MCPTests {
    @Test("initialize, tools/list from the catalog with annotations and schemas, tools/call through the action service; a run with channel mcp")
    func listAndCall() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let mcp = MCPClient(harness: harness, client: client, token: try await agentToken(harness, client, id))
            let initialized = try await mcp.result("initialize", #"{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}"#)
            #expect(initialized["protocolVersion"] as? String == "2025-11-25")
            #expect((initialized["capabilities"] as? [String: Any])?["tools"] != nil)

            let listed = try await mcp.result("tools/list")
            let tools = try #require(listed["tools"] as? [[String: Any]])
            print("tools/list with every action: \(tools.count) tools, \(try JSONSerialization.data(withJSONObject: listed).count) bytes")
            #expect(tools.count == ActionCatalog.intercom.actions.count)
            for tool in tools {
                let name = try #require(tool["name"] as? String)
                #expect(name.wholeMatch(of: /[a-zA-Z0-9_-]{1,64}/) != nil, "\(name)")
                #expect((tool["inputSchema"] as? [String: Any])?["type"] as? String == "object", "\(name)")
                // Curated tools declare their output (an object); generated ones leave it out (GET /v1/actions/{name} has it).
                let curated = ActionCatalog.intercom.action(named: name.replacingOccurrences(of: "intercom_", with: "intercom."))?.curated ?? false
                #expect(curated ? (tool["outputSchema"] as? [String: Any])?["type"] as? String == "object" : tool["outputSchema"] == nil,
                        "\(name): structuredContent is an object")
            }
            let getContact = try #require(tools.first { $0["name"] as? String == "intercom_get_contact" })
            let annotations = try #require(getContact["annotations"] as? [String: Any])
            #expect(annotations["readOnlyHint"] as? Bool == true && annotations["openWorldHint"] as? Bool == true)
            let delete = try #require(tools.first { $0["name"] as? String == "intercom_delete_contact" })
            #expect((delete["annotations"] as? [String: Any])?["destructiveHint"] as? Bool == true)

            let created = try await mcp.call("intercom_create_contact", #"{"email":"mcp@example.com","name":"Em Cee"}"#)
            #expect(created["isError"] as? Bool != true, "\(created)")
            let contact = try #require(created["structuredContent"] as? [String: Any])
            #expect(contact["email"] as? String == "mcp@example.com")
            #expect(toolText(created).contains("mcp@example.com"), "the text block carries the message and the JSON")
            let listedContacts = try await mcp.call("intercom_list_contacts", #"{"limit":2}"#)
            let fetched = try await mcp.call("intercom_get_contact", #"{"contact_id":"\#(contact["id"] as? String ?? "")"}"#)
            for (name, result) in [("intercom_create_contact", created), ("intercom_list_contacts", listedContacts), ("intercom_get_contact", fetched)] {
                let schema = try #require(tools.first { $0["name"] as? String == name }?["outputSchema"] as? [String: Any])
                let structured = try JSONSerialization.data(withJSONObject: try #require(result["structuredContent"]))
                #expect(OpenAPIContract.violations(of: structured, jsonSchema: schema) == [], "\(name)'s structuredContent conforms to its output schema")
            }
            let items = (listedContacts["structuredContent"] as? [String: Any])?["result"] as? [[String: Any]]
            #expect(items?.contains { $0["email"] as? String == "mcp@example.com" } == true, "a list is wrapped as {result}: \(listedContacts)")

            let runs = try object(try await client.call(.get, "/v1/runs?limit=1", harness))
            let run = try #require((runs["data"] as? [[String: Any]])?.first)
            #expect(run["channel"] as? String == "mcp" && (run["agentTokenId"] as? String)?.hasPrefix("atok_") == true)
        }
    }

    @Test("errors are tool errors naming each field, a missing input asks the catalog's question; an unknown tool is a tool error")
    func toolErrors() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let mcp = MCPClient(harness: harness, client: client, token: try await agentToken(harness, client, id))
            let bad = try await mcp.call("intercom_create_ticket", #"{"email":"not-an-email","ticket_type_id":"1"}"#)
            #expect(bad["isError"] as? Bool == true)
            let text = toolText(bad)
            #expect(text.contains("email: must be an email address"), "\(text)")
            #expect(text.contains("title is missing: ask the user 'What is the subject of your ticket?'"), "\(text)")
            let unknown = try await mcp.call("intercom_nope", "{}")
            #expect(unknown["isError"] as? Bool == true && toolText(unknown).contains("tools/list"))

            // Every call is checked as the transport checks it: a version we do not speak, a client that takes no JSON.
            let call = ByteBuffer(string: #"{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"intercom_who_am_i","arguments":{}}}"#)
            var oldVersion = mcp.headers()
            oldVersion[HTTPField.Name("MCP-Protocol-Version")!] = "1999-01-01"
            #expect(try await client.execute(uri: "/mcp", method: .post, headers: oldVersion, body: call).status == .badRequest)
            var noJSON = mcp.headers()
            noJSON[.accept] = "text/html"
            #expect(try await client.execute(uri: "/mcp", method: .post, headers: noJSON, body: call).status == .notAcceptable)
        }
    }

    @Test("only agent tokens: no token, an admin key, a revoked token are 401 with WWW-Authenticate: Bearer")
    func onlyAgentTokens() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let secret = try await agentToken(harness, client, id)
            let mcp = MCPClient(harness: harness, client: client, token: secret)
            for refused in ["", harness.apiKey, secret + "x"] {
                let response = try await mcp.post("tools/list", token: refused)
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            }
            let tokens = try object(try await client.call(.get, "/v1/integrations/\(id)/agent-tokens", harness))
            let tokenID = try #require((tokens["data"] as? [[String: Any]])?.first?["id"] as? String)
            #expect(try await mcp.post("tools/list").status == .ok)
            _ = try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/\(tokenID)", harness)
            #expect(try await mcp.post("tools/list").status == .unauthorized, "revoked: refused at once")
        }
    }

    @Test("the allow-lists: the integration's bounds every token, a token's narrows it; nothing outside is listed or callable")
    func allowLists() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            _ = try await client.call(.patch, "/v1/integrations/\(id)", harness, json: #"{"tools":["intercom.who_am_i","intercom.get_contact","intercom.list_admins"]}"#)
            let narrow = MCPClient(harness: harness, client: client,
                                   token: try await agentToken(harness, client, id, #"{"name":"narrow","tools":["intercom.who_am_i","intercom.list_admins"]}"#))
            let names = try #require(try await narrow.result("tools/list")["tools"] as? [[String: Any]]).compactMap { $0["name"] as? String }
            #expect(Set(names) == ["intercom_who_am_i", "intercom_list_admins"])
            #expect(try await narrow.call("intercom_who_am_i", "{}")["isError"] as? Bool != true)
            let outside = try await narrow.call("intercom_get_contact", #"{"contact_id":"1"}"#)
            #expect(outside["isError"] as? Bool == true, "not callable outside the token's list")
            let wide = MCPClient(harness: harness, client: client, token: try await agentToken(harness, client, id))
            let all = try #require(try await wide.result("tools/list")["tools"] as? [[String: Any]]).compactMap { $0["name"] as? String }
            #expect(Set(all) == ["intercom_who_am_i", "intercom_get_contact", "intercom_list_admins"])
            #expect(try await wide.call("intercom_create_contact", #"{"email":"x@example.com"}"#)["isError"] as? Bool == true)
        }
    }

    @Test("allow-lists name groups as group:NAME (any case): the integration's bounds a token's group by every action in it; an unknown group is refused")
    func groupAllowLists() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let patched = try await client.call(.patch, "/v1/integrations/\(id)", harness, json: #"{"tools":["group:macros","intercom.who_am_i"]}"#)
            #expect(patched.status == .ok)
            let wide = MCPClient(harness: harness, client: client, token: try await agentToken(harness, client, id))
            let all = try #require(try await wide.result("tools/list")["tools"] as? [[String: Any]]).compactMap { $0["name"] as? String }
            #expect(Set(all) == ["intercom_get_macro", "intercom_list_macros", "intercom_who_am_i"])
            #expect(try await wide.call("intercom_list_macros", "{}")["isError"] as? Bool != true)
            let macros = MCPClient(harness: harness, client: client, token: try await agentToken(harness, client, id, #"{"name":"macros","tools":["group:Macros"]}"#))
            let names = try #require(try await macros.result("tools/list")["tools"] as? [[String: Any]]).compactMap { $0["name"] as? String }
            #expect(Set(names) == ["intercom_get_macro", "intercom_list_macros"])
            try expectProblem(try await client.call(.post, "/v1/integrations/\(id)/agent-tokens", harness, json: #"{"name":"x","tools":["group:Articles"]}"#),
                              409, code: "tool_not_allowed", field: "tools[0]")
            try expectProblem(try await client.call(.patch, "/v1/integrations/\(id)", harness, json: #"{"tools":["group:Nope"]}"#),
                              422, code: "validation_failed", field: "tools[0]")
        }
    }

    @Test("a user with no connection gets the connect link in the tool error's text and _meta; after connecting, the call works")
    func authorizationInTheConversation() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            _ = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
            let mcp = MCPClient(harness: harness, client: client,
                                token: try await agentToken(harness, client, id, #"{"name":"Ada's agent","userId":"user-a"}"#))
            let first = try await mcp.call("intercom_who_am_i", "{}")
            #expect(first["isError"] as? Bool == true)
            let message = toolText(first)
            #expect(message.hasPrefix("Ask the user to open this link to connect their Intercom account: https://switchboard.test/connect/"), "\(message)")
            #expect(message.hasSuffix("Then call the tool again."))
            let meta = try #require(first["_meta"] as? [String: Any])
            let url = try #require(meta["authorizationURL"] as? String)
            #expect(meta["reason"] as? String == "connect" && meta["expiresAt"] is String)
            #expect(message.contains(url))

            let done = try await EndUserBrowser(harness: harness, client: client).connect(url)
            #expect(done.status == .ok, "\(text(done))")
            let second = try await mcp.call("intercom_who_am_i", "{}")
            #expect(second["isError"] as? Bool != true, "\(second)")
            #expect(toolText(second).contains("ada@acme.test"))

            // A server-side agent's token names the user of each call.
            var server = MCPClient(harness: harness, client: client, token: try await agentToken(harness, client, id, #"{"name":"bot"}"#))
            let nobody = try await server.call("intercom_who_am_i", "{}")
            #expect(nobody["isError"] as? Bool == true && toolText(nobody).contains("user.id"), "\(toolText(nobody))")
            server.user = "user-a"
            #expect(try await server.call("intercom_who_am_i", "{}")["isError"] as? Bool != true)
        }
    }

    @Test("a session whose client declared URL elicitation: -32042 with the link, the completion on its GET stream once the user connected; DELETE ends it")
    func urlElicitation() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.perUserIntegration(client)
            _ = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
            var mcp = MCPClient(harness: harness, client: client,
                                token: try await agentToken(harness, client, id, #"{"name":"Ada's agent","userId":"user-a"}"#))
            let opened = try await mcp.post("initialize", #"{"protocolVersion":"2025-11-25","capabilities":{"elicitation":{"url":{}}},"clientInfo":{"name":"test","version":"1"}}"#)
            #expect(opened.status == .ok, "\(text(opened))")
            mcp.session = try #require(opened.headers[MCPClient.sessionHeader], "initialize opens a session")
            #expect(mcp.session?.hasPrefix("sbms_") == true)

            let refused = try object(try await mcp.post("tools/call", #"{"name":"intercom_who_am_i","arguments":{}}"#))
            let error = try #require(refused["error"] as? [String: Any], "\(refused)")
            #expect(error["code"] as? Int == -32042)
            #expect((error["message"] as? String)?.contains("connect your Intercom account") == true, "\(error)")
            let elicitation = try #require(((error["data"] as? [String: Any])?["elicitations"] as? [[String: Any]])?.first)
            #expect(elicitation["mode"] as? String == "url")
            let url = try #require(elicitation["url"] as? String)
            #expect(url.hasPrefix("https://switchboard.test/connect/"))
            let elicitationID = try #require(elicitation["elicitationId"] as? String)

            // Without the session header the same client is answered with a tool error carrying the link.
            var plain = mcp
            plain.session = nil
            #expect(try await plain.call("intercom_who_am_i", "{}")["isError"] as? Bool == true)

            let done = try await EndUserBrowser(harness: harness, client: client).connect(url)
            #expect(done.status == .ok, "\(text(done))")
            let stream = try await client.execute(uri: "/mcp", method: .get, headers: mcp.headers(), body: nil)
            #expect(stream.status == .ok && stream.headers[.contentType] == "text/event-stream")
            let events = text(stream)
            #expect(events.contains(#""method":"notifications/elicitation/complete""#), "\(events)")
            #expect(events.contains(#""elicitationId":"\#(elicitationID)""#), "\(events)")
            #expect(try await mcp.call("intercom_who_am_i", "{}")["isError"] as? Bool != true, "connected: the call works")

            // Another token cannot use the session; GET without one is 405; DELETE ends it, after which it is 404.
            var other = MCPClient(harness: harness, client: client, token: try await agentToken(harness, client, id, #"{"name":"other","userId":"user-a"}"#))
            other.session = mcp.session
            #expect(try await other.post("tools/list").status == .notFound)
            plain.session = nil
            let noSession = try await client.execute(uri: "/mcp", method: .get, headers: plain.headers(), body: nil)
            #expect(noSession.status == .methodNotAllowed && noSession.headers[.allow] != nil)
            let ended = try await client.execute(uri: "/mcp", method: .delete, headers: mcp.headers(), body: nil)
            #expect(ended.status == .noContent)
            #expect(try await mcp.post("tools/list").status == .notFound, "an ended session is 404: the client initializes again")
        }
    }

    @Test("every problem the REST API gives is a tool error: not found, Intercom failing, rate limited (retryAfter in _meta), integration disabled")
    func problemsAreToolErrors() async throws {
        let transport = HostileHeadersTransport()
        try await Harness.with(transport: transport) { harness, client in
            let id = try await harness.enabledIntegration(client)
            let mcp = MCPClient(harness: harness, client: client, token: try await agentToken(harness, client, id))
            let missing = try await mcp.call("intercom_get_contact", #"{"contact_id":"does-not-exist"}"#)
            #expect(missing["isError"] as? Bool == true && (missing["_meta"] as? [String: Any])?["code"] as? String == "not_found", "\(missing)")

            try await harness.sandbox.setFaults(#"{"serverErrorRate":1}"#)
            let failing = try await mcp.call("intercom_who_am_i", "{}")
            #expect(failing["isError"] as? Bool == true && ((failing["_meta"] as? [String: Any])?["code"] as? String)?.hasPrefix("provider_") == true, "\(failing)")
            try await harness.sandbox.setFaults("{}")

            transport.answerWith(status: 429, headers: [("Retry-After", "30")])
            let limited = try await mcp.call("intercom_who_am_i", "{}")
            let meta = try #require(limited["_meta"] as? [String: Any])
            #expect(limited["isError"] as? Bool == true && meta["code"] as? String == "rate_limited" && (meta["retryAfter"] as? Int ?? 0) > 0, "\(limited)")
            #expect(toolText(limited).contains("rate limit"), "\(toolText(limited))")

            _ = try await client.call(.post, "/v1/integrations/\(id)/disable", harness)
            let disabled = try await mcp.call("intercom_who_am_i", "{}")
            #expect(disabled["isError"] as? Bool == true && toolText(disabled).contains("enable it first"), "\(toolText(disabled))")
        }
    }
}
