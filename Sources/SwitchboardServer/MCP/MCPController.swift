import Foundation
import HTTPTypes
import Hummingbird
import MCP
import NIOCore
import ServiceLifecycle
import SwitchboardCore
import SwitchboardStore
import Synchronization

/// `/mcp`: the catalog's actions as MCP tools for AI agents, over streamable HTTP, through the same `ActionService` as
/// every other channel.
///
/// Every `POST` is answered by a fresh MCP server built from what the database holds (the agent token, the
/// integration, its allow-list, the session), so any instance answers any request. `initialize` opens a session
/// (`Mcp-Session-Id`) that records what the client declared; a client that sends it back and declared URL
/// elicitation gets `-32042` with the connect link, and hears `notifications/elicitation/complete` on its `GET /mcp`
/// stream once the user has connected. A client that sends no session header is served alike, with tool errors.
struct MCPController: Sendable {
    let store: Store
    let tools: MCPToolServer
    let clock: any WallClock

    /// How often an open `GET /mcp` stream looks for answered elicitations, how often it sends a keep-alive comment, and
    /// how long it stays open before the client is asked to reconnect (so that no stream outlives a deploy for long).
    static let streamPollInterval: Duration = .seconds(1)
    static let streamKeepAlive: TimeInterval = 15
    static let streamLifetime: TimeInterval = 300
    /// How long a stream holds its session (renewed at each keep-alive): a stream whose instance died frees it then.
    static let streamLease: TimeInterval = 45
    /// Streams an agent token may hold open at once, across its sessions.
    static let streamsPerToken = 4

    static let userHeader = HTTPField.Name("Switchboard-User-Id")!
    static let conversationHeader = HTTPField.Name("Switchboard-Conversation-Id")!
    static let sessionHeader = HTTPField.Name("Mcp-Session-Id")!

    var routes: RouteCollection<AppRequestContext> {
        let routes = RouteCollection(context: AppRequestContext.self)
        let mcp = routes.group("/mcp").add(middleware: AgentTokenMiddleware(store: store, clock: clock))
        mcp.post(use: post)
        mcp.get(use: stream)
        mcp.delete(use: delete)
        return routes
    }

    @Sendable func post(request: Request, context: AppRequestContext) async throws -> Response {
        guard let token = context.agentToken else { throw Problem.unauthenticated }
        var headers: [String: String] = [:]
        for field in request.headers { headers[field.name.canonicalName] = field.value }
        // No Accept, or */*, accepts any media type (RFC 9110 §12.5.1), JSON among them: the transport's check wants it said.
        let accept = request.headers[.accept]?.trimmingCharacters(in: .whitespaces) ?? ""
        if accept.isEmpty || accept == "*/*" { headers[HTTPField.Name.accept.canonicalName] = "application/json, text/event-stream" }
        let body = Data(try await request.body.collect(upTo: context.maxUploadSize).readableBytesView)
        let method = Self.method(of: body)
        let initializing = method == "initialize"
        let session = initializing ? nil : try await presentedSession(request, token: token)
        if !initializing, request.headers[Self.sessionHeader] != nil, session == nil { return try Self.sessionNotFound(request, context) }

        // The end user and conversation a request names are bounded as the API's own `user` is.
        for header in [Self.userHeader, Self.conversationHeader] {
            if let value = request.headers[header], value.unicodeScalars.count > 200 || value.trimmingCharacters(in: InputReader.blank).isEmpty {
                throw Problem.validation([.init(field: header.rawName, detail: "must be 1 to 200 characters")])
            }
        }
        // Who the call is for: the token's own end user, or (a server-side agent's token) the user each request names.
        let caller = MCPCaller(token: token, userID: token.endUserID ?? request.headers[Self.userHeader],
                               conversationID: request.headers[Self.conversationHeader])
        let elicitor = SessionURLElicitor(store: store, session: session, clock: clock)
        let message = MCP.HTTPRequest(method: "POST", headers: headers, body: body, path: "/mcp")
        if method == CallTool.name, let call = try? JSONDecoder().decode(ToolCallRequest.self, from: body) {
            return try await self.call(call, message: message, caller: caller, elicitor: elicitor)
        }
        let server = try await tools.server(for: caller, elicitor: elicitor)
        let declared = DeclaredCapabilities()
        let transport = StatelessHTTPServerTransport(validationPipeline: Self.validation)
        try await server.start(transport: transport) { _, capabilities in await declared.set(capabilities) }
        let answer = await transport.handleRequest(message)
        await server.stop()

        var response = Self.response(answer)
        if initializing, answer.statusCode == 200, let version = Self.protocolVersion(in: answer.bodyData), let capabilities = await declared.value {
            let now = clock.now()
            let opened = AgentSession(id: AgentSession.idPrefix + SecureRandom.token(bytes: 24), agentTokenID: token.id, workspaceID: token.workspaceID,
                                      protocolVersion: version, elicitsURL: capabilities.elicitation?.url != nil,
                                      elicitsForm: capabilities.elicitation.map { $0.form != nil || $0.url == nil } ?? false,
                                      createdAt: now, lastSeenAt: now)
            try await store.agentSessions.insert(opened)
            response.headers[Self.sessionHeader] = opened.id
        }
        return response
    }

    /// What every POST is checked for before it is answered: it accepts JSON, is JSON, and names a version we speak.
    static let validation = StandardValidationPipeline(validators: [
        AcceptHeaderValidator(mode: .jsonOnly), ContentTypeValidator(), ProtocolVersionValidator(),
    ])

    /// `tools/call`, the call agents make most, answered without a `Server` in between: the SDK's server hands a
    /// handler's result back by encoding it, decoding it as a `Value` (matching every string against a data-URL
    /// pattern) and encoding it again, which made a call cost five times its REST twin. The same checks, the same
    /// `MCPToolServer.call`, and the SDK's own response type.
    private func call(_ call: ToolCallRequest, message: MCP.HTTPRequest, caller: MCPCaller, elicitor: SessionURLElicitor) async throws -> Response {
        if let refused = Self.validation.validate(message, context: HTTPValidationContext(httpMethod: "POST")) { return Self.response(refused) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var body: Data
        do {
            let answer = try await tools.call(name: call.params.name, arguments: call.params.arguments ?? [:], caller: caller,
                                              tools: try await tools.toolset(token: caller.token), elicitor: elicitor, server: nil)
            body = try encoder.encode(MCP.Response<CallTool>(id: call.id, result: answer.result))
            if let structured = answer.structuredJSON {
                // `{"id":…,"jsonrpc":"2.0","result":{"content":[…]}}` (sorted keys: `result` last) takes the action's
                // JSON as `structuredContent` as it is, unparsed.
                guard body.suffix(2) == Data("}}".utf8) else { throw MCPError.internalError("unexpected encoding of a tool result") }
                body.removeLast(2)
                body += Data(#","structuredContent":"#.utf8) + structured + Data("}}".utf8)
            }
        } catch let error as MCPError {
            body = try encoder.encode(MCP.Response<CallTool>(id: call.id, error: error))
        }
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `GET /mcp` with a session: a server-sent event stream that tells the client when a user it sent a connect link has
    /// connected. It reads the database, so the stream may be on another instance than the call that sent the link.
    @Sendable func stream(request: Request, context: AppRequestContext) async throws -> Response {
        guard let token = context.agentToken else { throw Problem.unauthenticated }
        guard request.headers[Self.sessionHeader] != nil else {
            return try Self.methodNotAllowed(request, context, detail: "GET /mcp needs the Mcp-Session-Id that initialize answered with; without one there is nothing to stream.")
        }
        guard let session = try await presentedSession(request, token: token) else { return try Self.sessionNotFound(request, context) }
        let (store, clock) = (self.store, self.clock)
        // One stream per session and a few per token, on any instance: a lease on the session's row.
        let owner = Identifier.make("strm")
        @Sendable func claim() async throws -> StreamClaim {
            try await store.agentSessions.claimStream(sessionID: session.id, agentTokenID: token.id, owner: owner, now: clock.now(),
                                                      lease: Self.streamLease, perToken: Self.streamsPerToken)
        }
        switch try await claim() {
        case .claimed: break
        case .busy:
            throw Problem.conflict("mcp_stream_open", "This session has a stream open already: one stream per session (one whose connection dropped is freed within \(Int(Self.streamLease)) s).")
        case .tokenLimit:
            throw Problem(status: 429, code: "mcp_stream_limit", title: "Too many streams",
                          detail: "This agent token has \(Self.streamsPerToken) streams open on its other sessions; close one first.")
        }
        let body = ResponseBody { writer in
            // However the stream ends (its time, the token, a client gone mid-write, a database error), the session is
            // let go at once, so that a client reconnecting is not refused for the lease's 45 s.
            do {
                try await Self.stream(session: session, token: token, store: store, clock: clock, writer: &writer, claim: claim)
            } catch {
                try? await store.agentSessions.releaseStream(sessionID: session.id, owner: owner)
                throw error
            }
            try? await store.agentSessions.releaseStream(sessionID: session.id, owner: owner)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store", Self.sessionHeader: session.id], body: body)
    }

    /// The stream's body: events as elicitations are answered, keep-alives, the lease renewed; until its lifetime
    /// ends, the session or its token stops working, or the instance shuts down.
    private static func stream(session: AgentSession, token: AgentToken, store: Store, clock: any WallClock, writer: inout any ResponseBodyWriter,
                               claim: @Sendable () async throws -> StreamClaim) async throws {
        try await writer.write(ByteBuffer(string: ": stream open\n\n"))
        let closesAt = clock.now().addingTimeInterval(Self.streamLifetime)
        var lastSent = clock.now(), lastClaimed = clock.now()
        let stopping = ShutdownFlag()
        do {
            try await withGracefulShutdownHandler {
                while clock.now() < closesAt, !stopping.isSet, !Task.isCancelled {
                    // One read a second: the session and its token still work (a revoked token's stream ends
                    // here), and which of its elicitations are answered.
                    guard let answered = try await store.agentSessions.answeredElicitations(sessionID: session.id, agentTokenID: token.id,
                                                                                             now: clock.now()) else { break }
                    for id in answered {
                        guard try await store.agentSessions.removeElicitation(id: id) else { continue }
                        try await writer.write(ByteBuffer(string: Self.event(ElicitationCompleteNotification.message(.init(elicitationId: id)))))
                        lastSent = clock.now()
                    }
                    if clock.now().timeIntervalSince(lastClaimed) >= Self.streamKeepAlive {
                        guard try await claim() == .claimed else { break }
                        lastClaimed = clock.now()
                    }
                    if clock.now().timeIntervalSince(lastSent) >= Self.streamKeepAlive {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        lastSent = clock.now()
                    }
                    try await clock.sleep(for: Self.streamPollInterval)
                }
            } onGracefulShutdown: {
                stopping.set()
            }
        } catch is CancellationError {}
    }

    /// `DELETE /mcp` with a session ends it (and what it waits on).
    @Sendable func delete(request: Request, context: AppRequestContext) async throws -> Response {
        guard let token = context.agentToken else { throw Problem.unauthenticated }
        guard let id = request.headers[Self.sessionHeader] else {
            throw Problem(status: 400, code: "mcp_session_required", title: "Bad request",
                          detail: "DELETE /mcp ends a session: send the Mcp-Session-Id that initialize answered with.")
        }
        guard try await store.agentSessions.deleteSession(id: id, agentTokenID: token.id) else { return try Self.sessionNotFound(request, context) }
        return Response(status: .noContent)
    }

    private func presentedSession(_ request: Request, token: AgentToken) async throws -> AgentSession? {
        guard let id = request.headers[Self.sessionHeader] else { return nil }
        return try await store.agentSessions.session(id: id, agentTokenID: token.id, now: clock.now())
    }

    /// 404 tells an MCP client its session is over and it should initialize again.
    static func sessionNotFound(_ request: Request, _ context: AppRequestContext) throws -> Response {
        try Problem(status: 404, code: "mcp_session_not_found", title: "Not found",
                    detail: "This MCP session has ended or was never opened by this token; send initialize again.")
            .response(from: request, context: context)
    }

    static func methodNotAllowed(_ request: Request, _ context: AppRequestContext, detail: String) throws -> Response {
        var response = try Problem(status: 405, code: "method_not_allowed", title: "Method not allowed", detail: detail)
            .response(from: request, context: context)
        response.headers[.allow] = "POST, GET, DELETE"
        return response
    }

    /// One server-sent event carrying a JSON-RPC message.
    static func event<M: Encodable>(_ message: M) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let json = (try? encoder.encode(message)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "event: message\ndata: \(json)\n\n"
    }

    /// The JSON-RPC method of a request body, if it is one.
    static func method(of body: Data) -> String? {
        struct Envelope: Decodable { var method: String? }
        return (try? JSONDecoder().decode(Envelope.self, from: body))?.method
    }

    /// The protocol version an initialize answer agreed.
    static func protocolVersion(in body: Data?) -> String? {
        struct Answer: Decodable { struct Result: Decodable { var protocolVersion: String }; var result: Result? }
        return body.flatMap { try? JSONDecoder().decode(Answer.self, from: $0) }?.result?.protocolVersion
    }

    static func response(_ answer: MCP.HTTPResponse) -> Response {
        var fields = HTTPFields()
        for (name, value) in answer.headers { if let field = HTTPField.Name(name) { fields[field] = value } }
        fields[.cacheControl] = "no-store"
        let status = HTTPResponse.Status(code: answer.statusCode)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: answer.bodyData ?? Data())))
    }
}

/// A `tools/call` request as the direct path reads it: the arguments as our JSON, not the SDK's `Value` (whose
/// decoder matches every string against a data-URL pattern). Anything else goes to the SDK's server.
struct ToolCallRequest: Decodable {
    struct Params: Decodable {
        var name: String
        var arguments: [String: JSONValue]?
    }

    var id: MCP.ID
    var params: Params
}

/// Set when the instance begins a graceful shutdown: open streams end within a poll interval.
private final class ShutdownFlag: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
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
        context.facts.note(workspaceID: token.workspaceID, integrationID: token.integrationID)
        return try await next(request, context)
    }
}
