import Foundation
import MCP
import Providers
import SwitchboardCore
import SwitchboardStore

/// Who an MCP request acts for: the agent token, and the end user and conversation (the token's own user, or the ones
/// a server-side agent names per request).
struct MCPCaller: Sendable {
    var token: AgentToken
    var userID: String?
    var conversationID: String?
}

/// How a call answers an end user who must connect: with URL-mode elicitation (`-32042`) when the client declared it
/// and there is a session to tell of the completion, or else a tool error whose text carries the link.
protocol URLElicitor: Sendable {
    /// An elicitation id to answer with `-32042` (recorded, so that the session hears when the user has connected), or
    /// nil to answer with a tool error.
    /// `server` is the one answering, for an elicitor that tells it of the completion itself; `expiresAt`, when the
    /// connect link does.
    func elicitation(integrationID: String, endUserID: String, expiresAt: Date, server: Server?) async throws -> String?
}

/// No session, or a client that did not declare URL elicitation: the link goes in a tool error.
struct NoURLElicitation: URLElicitor {
    func elicitation(integrationID: String, endUserID: String, expiresAt: Date, server: Server?) async throws -> String? { nil }
}

/// The MCP server one caller talks to: the tools the token may use, called through `ActionService` (channel `mcp`).
/// Built afresh for every HTTP request from what the database holds, so any instance answers any request.
struct MCPToolServer: Sendable {
    let store: Store
    let actions: ActionService
    let clock: any WallClock
    /// Every catalog action's tool name, worked out once.
    let toolNames: [String: String]

    init(store: Store, actions: ActionService, clock: any WallClock) {
        self.store = store
        self.actions = actions
        self.clock = clock
        toolNames = Dictionary(actions.registry.actions.map { ($0.name, MCPTools.name(of: $0)) }, uniquingKeysWith: { first, _ in first })
    }

    static let instructions = "Tools that act in the connected account. When a tool answers that the user must connect, send them the link it gives and call the tool again once they have."

    /// What a token may use: its tools, and the provider's title for messages.
    struct Toolset: Sendable {
        let title: String
        let items: [(name: String, action: ActionTemplate)]
    }

    /// The tools this token may see and call now (none when its integration is gone).
    func toolset(token: AgentToken) async throws -> Toolset {
        guard let record = try await store.integrations.cachedIntegration(id: token.integrationID, workspaceID: token.workspaceID),
              let entry = actions.registry[record.integration.provider] else { return Toolset(title: "", items: []) }
        return Toolset(title: entry.definition.title, items: MCPTools.allowed(for: record.integration, token: token, catalog: entry.catalog, names: toolNames))
    }

    /// A server with `tools/list` and `tools/call` for this caller, not yet started.
    func server(for caller: MCPCaller, elicitor: any URLElicitor) async throws -> Server {
        let server = Server(name: "switchboard", version: "1", title: "Switchboard", instructions: Self.instructions,
                            capabilities: .init(tools: .init(listChanged: false)))
        let tools = try await toolset(token: caller.token)
        await server.withMethodHandler(ListTools.self) { _ in
            ListTools.Result(tools: tools.items.map { MCPTools.tool($0.name, $0.action) })
        }
        await server.withMethodHandler(CallTool.self) { [self, weak server] parameters in
            let answer = try await call(name: parameters.name, arguments: (parameters.arguments ?? [:]).mapValues(MCPTools.json), caller: caller,
                                        tools: tools, elicitor: elicitor, server: server)
            guard let json = answer.structuredJSON else { return answer.result }
            let structured: Value? = MCPTools.value(JSONValue.parse(json) ?? .null)
            return CallTool.Result(content: answer.result.content, structuredContent: structured, isError: answer.result.isError, _meta: answer.result._meta)
        }
        return server
    }

    /// A tool's answer: the result, and for a successful call its `structuredContent` as the JSON the action gave
    /// (kept as bytes, as the REST API sends it, rather than parsed into a `Value` and encoded again).
    struct ToolAnswer: Sendable {
        var result: CallTool.Result
        var structuredJSON: Data?
    }

    /// One `tools/call`, run through `ActionService`: a text block and the structured result, or a tool error;
    /// `-32042` (thrown) for a user who must connect when the elicitor takes it.
    func call(name: String, arguments: [String: JSONValue], caller: MCPCaller, tools: Toolset, elicitor: any URLElicitor,
              server: Server?) async throws -> ToolAnswer {
        guard let found = tools.items.first(where: { $0.name == name }) else {
            return ToolAnswer(result: MCPTools.toolError(Problem(status: 404, code: "tool_not_found", title: "Not found",
                                                                 detail: "No tool named '\(Problem.clip(name, to: 64))' is available to this agent; tools/list shows them."),
                                                         action: nil, title: ""))
        }
        let input = JSONValue.object(arguments)
        do {
            let outcome = try await actions.run(ActionService.Request(
                action: found.action.name, integrationID: caller.token.integrationID, workspaceID: caller.token.workspaceID, input: input,
                userID: caller.userID, conversationID: caller.conversationID, channel: .mcp, agentTokenID: caller.token.id))
            let json = String(decoding: outcome.resultJSON, as: UTF8.self)
            let text = outcome.message.isEmpty ? json : outcome.message + "\n\n" + json
            let structured = MCPTools.wrapsResult(found.action) ? Data(#"{"result":"#.utf8) + outcome.resultJSON + Data("}".utf8) : outcome.resultJSON
            return ToolAnswer(result: CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)]), structuredJSON: structured)
        } catch let problem as Problem {
            if problem.code == "authorization_required", let url = problem.extra?["authorizationURL"]?.stringValue, let user = caller.userID,
               let id = try await elicitor.elicitation(integrationID: caller.token.integrationID, endUserID: user,
                                                       expiresAt: Self.expiry(of: problem) ?? clock.now().addingTimeInterval(MCPController.streamLifetime),
                                                       server: server) {
                let message = MCPTools.connectMessage(problem, title: tools.title)
                throw MCPError.urlElicitationRequired(message: message, elicitations: [URLElicitationInfo(elicitationId: id, url: url, message: message)])
            }
            return ToolAnswer(result: MCPTools.toolError(problem, action: found.action, title: tools.title))
        } catch {
            return ToolAnswer(result: MCPTools.toolError(Problem.internalError(), action: found.action, title: tools.title))
        }
    }
}

extension MCPToolServer {
    /// When the connect link of an `authorization_required` problem expires.
    static func expiry(of problem: Problem) -> Date? {
        problem.extra?["expiresAt"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) }
    }
}

/// Over HTTP: a session whose client declared URL elicitation records what it waits on, for the `GET /mcp` stream.
struct SessionURLElicitor: URLElicitor {
    let store: Store
    let session: AgentSession?
    let clock: any WallClock

    /// The session's one elicitation for the user (however many calls ask), expiring with the connect link.
    func elicitation(integrationID: String, endUserID: String, expiresAt: Date, server: Server?) async throws -> String? {
        guard let session, session.elicitsURL else { return nil }
        let candidate = PendingElicitation(id: "el_" + SecureRandom.token(bytes: 16), sessionID: session.id, integrationID: integrationID,
                                           endUserID: endUserID, createdAt: clock.now())
        return try await store.agentSessions.elicitation(candidate, expiresAt: expiresAt, now: clock.now())
    }
}

/// On a transport that stays open (in-process, a pipe): URL elicitation when the client's `initialize` declared it,
/// and the completion notification sent on the same transport once the user has connected (watched for up to
/// `MCPController.streamLifetime`).
struct DeclaredURLElicitor: URLElicitor {
    let declared: DeclaredCapabilities
    let store: Store
    let clock: any WallClock

    func elicitation(integrationID: String, endUserID: String, expiresAt: Date, server: Server?) async throws -> String? {
        guard await declared.value?.elicitation?.url != nil, let server else { return nil }
        let pending = PendingElicitation(id: "el_" + SecureRandom.token(bytes: 16), sessionID: "", integrationID: integrationID,
                                         endUserID: endUserID, createdAt: clock.now())
        let (store, clock) = (self.store, self.clock)
        Task { [weak server] in
            let givesUpAt = clock.now().addingTimeInterval(MCPController.streamLifetime)
            while clock.now() < givesUpAt, server != nil {
                let connection = try? await store.connections.connection(integrationID: integrationID, endUserID: endUserID)
                if pending.isAnswered(by: connection) {
                    try? await server?.notify(ElicitationCompleteNotification.message(.init(elicitationId: pending.id)))
                    return
                }
                try? await clock.sleep(for: MCPController.streamPollInterval)
            }
        }
        return pending.id
    }
}

/// What the client declared in `initialize`, as the SDK read it.
actor DeclaredCapabilities {
    private(set) var value: Client.Capabilities?
    func set(_ capabilities: Client.Capabilities) { value = capabilities }
}
