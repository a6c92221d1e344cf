import Foundation
import Hummingbird
import Providers
import SwitchboardCore
import SwitchboardStore

/// `/v1/integrations`: configure, authorize, enable and disable integrations; a thin adapter over `IntegrationService`.
struct IntegrationsController: Sendable {
    let integrations: IntegrationService
    var store: Store { integrations.store }
    var settings: ServerSettings { integrations.settings }

    var routes: RouteCollection<WorkspaceRequestContext> {
        let routes = RouteCollection(context: WorkspaceRequestContext.self)
        routes.post("integrations", use: create)
        routes.get("integrations", use: list)
        routes.get("integrations/{id}", use: show)
        routes.patch("integrations/{id}", use: update)
        routes.delete("integrations/{id}", use: delete)
        routes.post("integrations/{id}/authorize", use: authorize)
        routes.post("integrations/{id}/enable", use: enable)
        routes.post("integrations/{id}/disable", use: disable)
        routes.get("integrations/{id}/connections", use: connections)
        routes.get("integrations/{id}/connections/{userId}", use: connection)
        routes.delete("integrations/{id}/connections/{userId}", use: disconnect)
        routes.post("integrations/{id}/signing-secret", use: rotateSigningSecret)
        return routes
    }

    @Sendable func create(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let (record, secret) = try await integrations.createIntegration(try await request.inputReader(context: context), by: context.principal)
        // The signing secret is shown here, once; POST …/signing-secret replaces it.
        guard case .object(var body) = try await represent(record) else { throw Problem.notFound("integration", id: record.integration.id) }
        body["signingSecret"] = .string(secret)
        return JSONResponse.make(.object(body), status: .created)
    }

    @Sendable func list(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        var items: [JSONValue] = []
        for record in try await store.integrations.integrations(workspaceID: context.workspace.id) { items.append(try await represent(record)) }
        return JSONResponse.list(items)
    }

    @Sendable func show(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        JSONResponse.make(try await represent(try await load(context)))
    }

    @Sendable func update(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let record = try await integrations.update(id: try context.parameters.require("id"), with: try await request.inputReader(context: context),
                                                   by: context.principal)
        return JSONResponse.make(try await represent(record))
    }

    @Sendable func delete(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        try await integrations.deleteIntegration(id: try context.parameters.require("id"), by: context.principal)
        return Response(status: .noContent)
    }

    /// Starts the pre-authorization: the answer's URL goes to the provider's login.
    @Sendable func authorize(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let input = try await request.inputReader(context: context)
        try input.finish()
        let started = try await integrations.startAuthorization(id: try context.parameters.require("id"), by: context.principal, binding: .onStartPage)
        // Not Intercom's URL itself: Switchboard's start page, which binds the authorization to the browser that opens it.
        return JSONResponse.make(.object([
            "authorizationURL": .string(settings.startURL(state: started.state)),
            "expiresAt": .time(started.expiresAt),
            "callbackURL": .string(started.callbackURL),
        ]))
    }

    /// Enables the integration; a pre-authorized one must have a connection that works now.
    @Sendable func enable(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        JSONResponse.make(try await represent(try await integrations.setEnabled(true, id: try context.parameters.require("id"), by: context.principal)))
    }

    @Sendable func disable(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        JSONResponse.make(try await represent(try await integrations.setEnabled(false, id: try context.parameters.require("id"), by: context.principal)))
    }

    @Sendable func connections(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let record = try await load(context)
        let query = request.uri.queryParameters
        let (limit, cursor) = try Paging.read(limit: query["limit"], startingAfter: query["starting_after"])
        let connections = try await store.connections.connections(integrationID: record.integration.id, workspaceID: context.workspace.id, limit: limit, before: cursor)
        var body: [String: JSONValue] = ["data": .array(connections.map(Self.represent)), "count": .number(Double(connections.count))]
        if connections.count == limit, let last = connections.last { body["next"] = .string("\(last.createdAt.unixSeconds):\(last.id)") }
        return JSONResponse.make(.object(body))
    }

    /// Disconnects one end user: revoked at Intercom, tokens deleted, `connection.revoked` sent.
    @Sendable func disconnect(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let record = try await load(context)
        let userID = try context.parameters.require("userId")
        guard let revoked = try await integrations.disconnect(record.integration, endUserID: userID, by: context.principal) else {
            throw Problem(status: 404, code: "not_found", title: "Not found", detail: "The user '\(Problem.clip(userID))' has no connection in this integration.")
        }
        return JSONResponse.make(.object(["userId": .string(userID), "disconnected": .bool(true), "revokedAtProvider": .bool(revoked)]))
    }

    /// A new signing secret for the integration's events, shown once; the old one stops working at once.
    @Sendable func rotateSigningSecret(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let record = try await load(context)
        let secret = try await integrations.rotateSigningSecret(id: record.integration.id, by: context.principal)
        return JSONResponse.make(.object(["signingSecret": .string(secret)]))
    }

    /// One end user's connection (per-user integrations), for assistants that poll after sending a connect link.
    @Sendable func connection(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let record = try await load(context)
        let userID = try context.parameters.require("userId")
        guard let connection = try await store.connections.connection(integrationID: record.integration.id, endUserID: userID) else {
            throw Problem(status: 404, code: "not_found", title: "Not found", detail: "The user '\(Problem.clip(userID))' has no connection in this integration.")
        }
        return JSONResponse.make(Self.represent(connection))
    }

    private func load(_ context: WorkspaceRequestContext) async throws -> IntegrationRecord {
        try await integrations.load(id: try context.parameters.require("id"), workspace: context.workspace)
    }

    func represent(_ record: IntegrationRecord) async throws -> JSONValue {
        let integration = record.integration
        var connection: JSONValue = .null
        if integration.authorization == .preauthorized,
           let shared = try await store.connections.connection(integrationID: integration.id, endUserID: Connection.sharedUser) {
            connection = Self.represent(shared)
        }
        return .object([
            "id": .string(integration.id),
            "name": .string(integration.name),
            "provider": .string(integration.provider.rawValue),
            "app": .string(integration.app.rawValue),
            "authProfileId": .optional(integration.authProfileID),
            "authorization": .string(integration.authorization.rawValue),
            "region": .optional(integration.region),
            "apiVersion": .optional(integrations.apiVersion(of: integration)),
            "notifyURL": .optional(integration.notifyURL),
            "verifyURL": .optional(integration.verifyURL),
            "tools": integration.toolAllowList.map(JSONValue.strings) ?? .null,
            "status": .string(record.status.rawValue),
            "connection": connection,
            "callbackURL": .string(settings.callbackURL(for: integration)),
            "createdAt": .time(integration.createdAt),
            "updatedAt": .time(integration.updatedAt),
        ])
    }

    /// A connection as the API shows it: the account and health, never a token.
    static func represent(_ connection: Connection) -> JSONValue {
        .object([
            "id": .string(connection.id),
            "userId": connection.endUserID == Connection.sharedUser ? .null : .string(connection.endUserID),
            "status": .string(connection.status.rawValue),
            "account": .object([
                "id": .string(connection.account.id),
                "name": .string(connection.account.name),
                "region": .optional(connection.account.region),
                "adminEmail": .optional(connection.account.adminEmail),
            ]),
            "scope": .optional(connection.tokens.scope),
            "expiresAt": .time(connection.tokens.expiresAt),
            "refreshable": .bool(connection.tokens.refreshToken != nil),
            "lastError": .optional(connection.lastError),
            "lastRefreshedAt": .time(connection.lastRefreshedAt),
            "createdAt": .time(connection.createdAt),
            "updatedAt": .time(connection.updatedAt),
        ])
    }
}
