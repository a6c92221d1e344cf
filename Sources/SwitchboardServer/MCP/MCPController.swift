import Foundation
import HTTPTypes
import Hummingbird
import MCP
import NIOCore
import Providers
import SwitchboardCore
import SwitchboardStore

/// `/mcp`: the catalog's actions as MCP tools for AI agents, over streamable HTTP, through the same `ActionService` as
/// every other channel. Stateless: each request is answered by a fresh MCP server built from what the database holds
/// (the agent token, the integration, its allow-list), so any instance answers any request and clients that do not
/// send a session header back are served alike.
struct MCPController: Sendable {
    let store: Store
    let actions: ActionService
    let clock: any WallClock

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        let mcp = routes.group("/mcp").add(middleware: AgentTokenMiddleware(store: store, clock: clock))
        mcp.post(use: handle)
        mcp.get(use: handle)
        mcp.delete(use: handle)
        return routes
    }

    @Sendable func handle(request: Request, context: AppRequestContext) async throws -> Response {
        guard let token = context.agentToken else { throw Problem.unauthenticated }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        let body = request.method == .post ? Data(try await request.body.collect(upTo: context.maxUploadSize).readableBytesView) : nil
        // Who the call is for: the token's own end user, or (a server-side agent's token) the user each request names.
        let userID = token.endUserID ?? request.headers[Self.userHeader]
        let conversationID = request.headers[Self.conversationHeader]

        let server = Server(name: "switchboard", version: "1", title: "Switchboard",
                            instructions: "Tools that act in the connected account. When a tool answers that the user must connect, send them the link it gives and call the tool again once they have.",
                            capabilities: .init(tools: .init(listChanged: false)))
        let tools = try await toolset(token: token)
        await server.withMethodHandler(ListTools.self) { _ in
            ListTools.Result(tools: tools.items.map { MCPTools.tool($0.name, $0.action) })
        }
        await server.withMethodHandler(CallTool.self) { [actions] parameters in
            guard let found = tools.items.first(where: { $0.name == parameters.name }) else {
                return MCPTools.toolError(Problem(status: 404, code: "tool_not_found", title: "Not found",
                                                  detail: "No tool named '\(Problem.clip(parameters.name, to: 64))' is available to this agent; tools/list shows them."),
                                          action: nil, title: "")
            }
            let input = JSONValue.object((parameters.arguments ?? [:]).mapValues(MCPTools.json))
            let title = tools.title
            do {
                let outcome = try await actions.run(ActionService.Request(
                    action: found.action.name, integrationID: token.integrationID, workspaceID: token.workspaceID, input: input,
                    userID: userID, conversationID: conversationID, channel: .mcp, agentTokenID: token.id))
                let result = outcome.result
                let text = outcome.message.isEmpty ? String(decoding: outcome.resultJSON, as: UTF8.self)
                    : outcome.message + "\n\n" + String(decoding: outcome.resultJSON, as: UTF8.self)
                let structured: Value? = MCPTools.structured(result, for: found.action)
                return CallTool.Result(content: [.text(text: text, annotations: nil, _meta: nil)], structuredContent: structured,
                                       isError: nil, _meta: nil)
            } catch let problem as Problem {
                return MCPTools.toolError(problem, action: found.action, title: title)
            } catch {
                return MCPTools.toolError(Problem.internalError(), action: found.action, title: title)
            }
        }
        let transport = StatelessHTTPServerTransport(validationPipeline: StandardValidationPipeline(validators: [
            AcceptHeaderValidator(mode: .jsonOnly), ContentTypeValidator(), ProtocolVersionValidator(),
        ]))
        try await server.start(transport: transport)
        let answer = await transport.handleRequest(MCP.HTTPRequest(method: request.method.rawValue, headers: headers, body: body, path: "/mcp"))
        await server.stop()
        return Self.response(answer)
    }

    /// What a token may use: its tools, and the provider's title for messages.
    struct Toolset: Sendable {
        let title: String
        let items: [(name: String, action: ActionTemplate)]
    }

    /// The tools this token may see and call now (none when its integration is gone).
    private func toolset(token: AgentToken) async throws -> Toolset {
        guard let record = try await store.integrations.cachedIntegration(id: token.integrationID, workspaceID: token.workspaceID),
              let entry = actions.registry[record.integration.provider] else { return Toolset(title: "", items: []) }
        return Toolset(title: entry.definition.title, items: MCPTools.allowed(for: record.integration, token: token, catalog: entry.catalog))
    }

    static let userHeader = HTTPField.Name("Switchboard-User-Id")!
    static let conversationHeader = HTTPField.Name("Switchboard-Conversation-Id")!

    static func response(_ answer: MCP.HTTPResponse) -> Response {
        var fields = HTTPFields()
        for (name, value) in answer.headers { if let field = HTTPField.Name(name) { fields[field] = value } }
        fields[.cacheControl] = "no-store"
        let status = HTTPResponse.Status(code: answer.statusCode)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: answer.bodyData ?? Data())))
    }
}

/// Lets only agent tokens into `/mcp`: anything else is 401 with `WWW-Authenticate: Bearer`.
struct AgentTokenMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let store: Store
    let clock: any WallClock

    func handle(_ request: Request, context: AppRequestContext, next: (Request, AppRequestContext) async throws -> Response) async throws -> Response {
        let now = clock.now()
        let parts = request.headers[.authorization]?.split(separator: " ", maxSplits: 1) ?? []
        guard parts.count == 2, parts[0].lowercased() == "bearer",
              let token = try await store.agentTokens.workingAgentToken(String(parts[1]).trimmingCharacters(in: .whitespaces), now: now)
        else {
            let problem = Problem(status: 401, code: "unauthenticated", title: "Unauthenticated",
                                  detail: "/mcp takes an agent token: Authorization: Bearer sbat_… (POST /v1/integrations/{id}/agent-tokens makes one).")
            var response = try problem.response(from: request, context: context)
            response.headers[.wwwAuthenticate] = #"Bearer realm="switchboard-mcp""#
            return response
        }
        await store.agentTokens.noteAgentTokenUsed(id: token.id, now: now)
        var context = context
        context.agentToken = token
        return try await next(request, context)
    }
}
