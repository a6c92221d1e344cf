import Foundation
import Providers
import HTTPTypes
import HummingbirdTesting
import MCP
import SwitchboardCore
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// The Swift SDK's own MCP client, talking to the server `/mcp` answers with over an in-memory transport pair: the
/// same behaviours as over HTTP, without HTTP.
struct InMemoryMCP {
    let client: Client
    let server: Server

    static func connect(_ harness: Harness, token: String, capabilities: Client.Capabilities = .init(), user: String? = nil) async throws -> InMemoryMCP {
        let (clientSide, serverSide) = await InMemoryTransport.createConnectedPair()
        let server = try #require(try await harness.services.startMCPServer(agentToken: token, userID: user, transport: serverSide))
        let client = Client(name: "swift-sdk-test", version: "1", capabilities: capabilities)
        _ = try await client.connect(transport: clientSide)
        return InMemoryMCP(client: client, server: server)
    }

    func call(_ name: String, _ arguments: [String: Value] = [:]) async throws -> CallTool.Result {
        try await client.send(CallTool.request(.init(name: name, arguments: arguments))).value
    }

    func close() async {
        await client.disconnect()
        await server.stop()
    }
}

func text(of result: CallTool.Result) -> String {
    result.content.compactMap { if case .text(let text, _, _) = $0 { text } else { nil } }.joined(separator: "\n")
}

@Suite("MCP through the Swift SDK's client, in memory")
struct MCPInMemoryTests {
    @Test("tools listed with names, schemas and annotations; calls give structuredContent and a text block; the run says mcp")
    func listAndCall() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let mcp = try await InMemoryMCP.connect(harness, token: try await agentToken(harness, client, id))
            let tools = try await mcp.client.listTools().tools
            #expect(tools.count == ActionCatalog.intercom.actions.count)
            #expect(tools.allSatisfy { $0.name.wholeMatch(of: /[a-zA-Z0-9_-]{1,64}/) != nil })
            #expect(tools.filter { $0.outputSchema?.objectValue?["type"] == .string("object") }.count == 42, "the curated tools declare their output")
            let getContact = try #require(tools.first { $0.name == "intercom_get_contact" })
            #expect(getContact.annotations.readOnlyHint == true && getContact.annotations.openWorldHint == true)
            #expect(tools.first { $0.name == "intercom_delete_contact" }?.annotations.destructiveHint == true)

            let created = try await mcp.call("intercom_create_contact", ["email": "swift@example.com", "name": "Swift Sdk"])
            #expect(created.isError != true, "\(text(of: created))")
            #expect(created.structuredContent?.objectValue?["email"] == .string("swift@example.com"))
            #expect(text(of: created).contains("swift@example.com"))
            let schema = try JSONSerialization.jsonObject(with: JSONEncoder().encode(try #require(tools.first { $0.name == "intercom_create_contact" }?.outputSchema))) as? [String: Any]
            #expect(OpenAPIContract.violations(of: try JSONEncoder().encode(created.structuredContent), jsonSchema: try #require(schema)) == [])
            await mcp.close()

            let runs = try object(try await client.call(.get, "/v1/runs?limit=1", harness))
            #expect((runs["data"] as? [[String: Any]])?.first?["channel"] as? String == "mcp")
        }
    }

    @Test("bad arguments name each field, a missing input asks the catalog's question; outside the allow-list nothing is listed or callable; a revoked token starts no server")
    func errorsAndAllowList() async throws {
        try await Harness.with { harness, client in
            let id = try await harness.enabledIntegration(client)
            let narrow = try await InMemoryMCP.connect(harness, token: try await agentToken(harness, client, id, #"{"name":"narrow","tools":["intercom.create_ticket","intercom.who_am_i"]}"#))
            #expect(Set(try await narrow.client.listTools().tools.map(\.name)) == ["intercom_create_ticket", "intercom_who_am_i"])
            let bad = try await narrow.call("intercom_create_ticket", ["email": "nope", "ticket_type_id": "1"])
            #expect(bad.isError == true)
            #expect(text(of: bad).contains("email: must be an email address"), "\(text(of: bad))")
            #expect(text(of: bad).contains("title is missing: ask the user 'What is the subject of your ticket?'"), "\(text(of: bad))")
            let outside = try await narrow.call("intercom_list_admins")
            #expect(outside.isError == true && text(of: outside).contains("tools/list"))
            await narrow.close()

            let secret = try await agentToken(harness, client, id, #"{"name":"soon revoked"}"#)
            let tokens = try object(try await client.call(.get, "/v1/integrations/\(id)/agent-tokens", harness))
            let tokenID = try #require((tokens["data"] as? [[String: Any]])?.first { $0["name"] as? String == "soon revoked" }?["id"] as? String)
            _ = try await client.call(.delete, "/v1/integrations/\(id)/agent-tokens/\(tokenID)", harness)
            let (_, serverSide) = await InMemoryTransport.createConnectedPair()
            #expect(try await harness.services.startMCPServer(agentToken: secret, transport: serverSide) == nil)
        }
    }

    @Test("a client that declared URL elicitation gets -32042 with the link, then notifications/elicitation/complete once the user connected; one that did not gets a tool error",
          .timeLimit(.minutes(1)))
    func urlElicitation() async throws {
        try await Harness.with(clockAdvancesWhenSleeping: false) { harness, client in
            let id = try await harness.perUserIntegration(client)
            _ = try await client.call(.post, "/v1/integrations/\(id)/enable", harness)
            let secret = try await agentToken(harness, client, id, #"{"name":"Ada's agent","userId":"user-a"}"#)

            let plain = try await InMemoryMCP.connect(harness, token: secret)
            let refused = try await plain.call("intercom_who_am_i")
            #expect(refused.isError == true && text(of: refused).hasPrefix("Ask the user to open this link"))
            await plain.close()

            let mcp = try await InMemoryMCP.connect(harness, token: secret, capabilities: .init(elicitation: .init(form: nil, url: .init())))
            let completed = AsyncStream.makeStream(of: String.self)
            await mcp.client.onNotification(ElicitationCompleteNotification.self) { message in completed.continuation.yield(message.params.elicitationId) }
            var elicitation: URLElicitationInfo?
            do {
                _ = try await mcp.call("intercom_who_am_i")
                Issue.record("the call should need the user to connect")
            } catch MCPError.urlElicitationRequired(let message, let elicitations) {
                #expect(message.contains("connect your Intercom account"))
                elicitation = elicitations.first
            }
            let asked = try #require(elicitation)
            #expect(asked.mode == "url" && asked.url.hasPrefix("https://switchboard.test/connect/"))

            #expect(await harness.clock.waitForSleepers(1), "the server watches for the connection")
            let done = try await EndUserBrowser(harness: harness, client: client).connect(asked.url)
            #expect(done.status == .ok)
            harness.clock.advance(by: 1)
            var iterator = completed.stream.makeAsyncIterator()
            #expect(await iterator.next() == asked.elicitationId)
            #expect(try await mcp.call("intercom_who_am_i").isError != true)
            await mcp.close()
        }
    }
}
