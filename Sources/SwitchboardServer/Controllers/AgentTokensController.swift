import Foundation
import Hummingbird
import SwitchboardCore

/// `/v1/integrations/{id}/agent-tokens`: make, list and revoke the tokens AI agents present to `/mcp`.
struct AgentTokensController: Sendable {
    let tokens: AgentTokenService

    var routes: RouteCollection<WorkspaceRequestContext> {
        let routes = RouteCollection(context: WorkspaceRequestContext.self)
        routes.post("integrations/{id}/agent-tokens", use: create)
        routes.get("integrations/{id}/agent-tokens", use: list)
        routes.delete("integrations/{id}/agent-tokens/{tokenId}", use: revoke)
        return routes
    }

    @Sendable func create(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let (token, secret) = try await tokens.create(integrationID: try context.parameters.require("id"),
                                                      try await request.inputReader(context: context), by: context.principal)
        guard case .object(var body) = Self.represent(token, now: tokens.clock.now()) else { throw Problem.internalError() }
        // Shown here, once: only its hash is kept.
        body["token"] = .string(secret)
        return JSONResponse.make(.object(body), status: .created)
    }

    @Sendable func list(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        let now = tokens.clock.now()
        return JSONResponse.list(try await tokens.list(integrationID: try context.parameters.require("id"), by: context.principal)
            .map { Self.represent($0, now: now) })
    }

    /// Revokes the token; with `purge=true`, deletes one that no longer works (revoked or expired).
    @Sendable func revoke(request: Request, context: WorkspaceRequestContext) async throws -> Response {
        switch request.uri.queryParameters["purge"].map(String.init) {
        case nil, "false": break
        case "true":
            try await tokens.delete(id: try context.parameters.require("tokenId"), integrationID: try context.parameters.require("id"), by: context.principal)
            return Response(status: .noContent)
        default:
            throw Problem.validation([.init(field: "purge", detail: "must be true or false")])
        }
        let token = try await tokens.revoke(id: try context.parameters.require("tokenId"), integrationID: try context.parameters.require("id"),
                                            by: context.principal)
        return JSONResponse.make(Self.represent(token, now: tokens.clock.now()))
    }

    /// A token as the API shows it: never the token itself, only the first characters.
    static func represent(_ token: AgentToken, now: Date) -> JSONValue {
        .object([
            "id": .string(token.id), "integrationId": .string(token.integrationID), "name": .string(token.name),
            "prefix": .string(token.displayPrefix), "userId": .optional(token.endUserID), "tools": token.tools.map(JSONValue.strings) ?? .null,
            "createdAt": .time(token.createdAt), "expiresAt": .time(token.expiresAt), "lastUsedAt": .time(token.lastUsedAt),
            "revokedAt": .time(token.revokedAt),
            "status": .string(token.revokedAt != nil ? "revoked" : token.works(at: now) ? "active" : "expired"),
        ])
    }
}
